"""Which shop a cabinet request is for: one Kopilka may serve several portals, each at its own
host name (``cabinet_hosts``: host → member_id; any other host serves ``cabinet_portal``, or
``default_portal``). The Host header only chooses whose cabinet is shown: a session or a login
code belongs to one portal and is refused by every other (``view.customer_of``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import current_program
from kopilka.config import Settings
from kopilka.db.tables import portals
from kopilka.domain.errors import NotFound
from kopilka.ledger.types import Book
from kopilka.program.model import Program


@dataclass(frozen=True, slots=True)
class Site:
    portal_id: int
    book: Book
    program: Program

    @property
    def shop_name(self) -> str:
        return self.program.shop.name or self.program.title

    @property
    def logo(self) -> str | None:
        return self.program.shop.logo

    @property
    def unit(self) -> str:
        return self.program.points.unit

    @property
    def locale(self) -> str:
        return self.program.locale


def host_of(request: Request) -> str:
    host = request.headers.get("host", "").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def member_for(settings: Settings, request: Request) -> str:
    hosts = {k.strip().lower(): v for k, v in settings.cabinet_hosts.items()}
    found = hosts.get(host_of(request))
    return found or settings.cabinet_portal or settings.default_portal


async def site_of(conn: AsyncConnection, settings: Settings, request: Request) -> Site | None:
    """The shop this request's cabinet serves, with its program in force; None when that
    portal is unknown or has no program yet."""
    member = member_for(settings, request)
    portal_id = await conn.scalar(select(portals.c.id).where(portals.c.member_id == member))
    if portal_id is None:
        return None
    try:
        book, program = await current_program(conn, int(portal_id))
    except NotFound:
        return None
    return Site(int(portal_id), book, program)
