"""Connected portals: how to call them, how their events prove themselves, which program runs.

A portal is keyed by its ``member_id`` (it survives a domain change). Self-hosted installs connect
with an incoming webhook (calls) plus the outgoing webhook's token (events); the webhook does not
reveal the ``member_id``, so such a portal is stored under ``domain:<host>`` until its first
verified event names the real one. Apps are stored by the ONAPPINSTALL payload.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.install import Installation
from kopilka.db.tables import b24_connections, portals, program_versions, programs
from kopilka.domain.errors import Conflict, InvalidCommand, NotFound
from kopilka.ledger.book import ensure_book, ensure_portal, program_book
from kopilka.ledger.types import Book
from kopilka.program.loader import parse_program
from kopilka.program.model import Program


class UnknownPortal(NotFound):
    code = "unknown_portal"


class NoProgram(InvalidCommand):
    code = "no_program"


@dataclass(frozen=True, slots=True)
class Connection:
    portal_id: int
    member_id: str
    mode: str
    client_id: str | None
    domain: str
    webhook_url: str | None
    client_endpoint: str | None
    application_token: str
    program_id: int | None
    field_map: dict[str, Any]
    status: str

    def __repr__(self) -> str:  # no secrets in logs
        return f"Connection(portal={self.portal_id}, domain={self.domain!r}, mode={self.mode})"

    def token_matches(self, token: str | None) -> bool:
        """Constant-time, on the decrypted token; as bytes, so a non-ASCII guess is a mismatch
        (``compare_digest`` refuses non-ASCII ``str``)."""
        return bool(token) and hmac.compare_digest(
            self.application_token.encode(), str(token).encode()
        )


def _host(url: str) -> str:
    host = urlsplit(url).hostname
    if not host:
        raise InvalidCommand("the webhook URL must look like https://<portal>/rest/<user>/<code>/")
    return host


def _select() -> Any:
    return select(b24_connections, portals.c.member_id).join(
        portals, portals.c.id == b24_connections.c.portal_id
    )


def _row(row: Any) -> Connection:
    m = row._mapping
    return Connection(
        portal_id=m["portal_id"],
        member_id=m["member_id"],
        mode=m["mode"],
        client_id=m["client_id"],
        domain=m["domain"],
        webhook_url=m["webhook_url"],
        client_endpoint=m["client_endpoint"],
        application_token=m["application_token"],
        program_id=m["program_id"],
        field_map=dict(m["field_map"] or {}),
        status=m["status"],
    )


async def connect_webhook(
    conn: AsyncConnection,
    *,
    webhook_url: str,
    event_token: str,
    member_id: str | None = None,
) -> Connection:
    if "/rest/" not in webhook_url:
        raise InvalidCommand("the webhook URL must look like https://<portal>/rest/<user>/<code>/")
    if not event_token.strip():
        raise InvalidCommand("the outgoing webhook's application token is empty")
    domain = _host(webhook_url)
    url = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
    portal_id = await ensure_portal(conn, member_id or f"domain:{domain}", domain)
    values = {
        "mode": "webhook",
        "domain": domain,
        "webhook_url": url,
        "application_token": event_token.strip(),
        "status": "active",
    }
    await conn.execute(
        insert(b24_connections)
        .values(portal_id=portal_id, **values)
        .on_conflict_do_update(index_elements=["portal_id"], set_=values)
    )
    return await get_connection(conn, portal_id)


class InstallConflict(Conflict):
    code = "install_conflict"


async def install_app(conn: AsyncConnection, inst: Installation, now: datetime) -> Connection:
    """Store a proven installation (:mod:`kopilka.bitrix24.install`). A new portal is added; an
    existing connection is updated only when it is this same application already installed
    there — same ``client_id`` and application token, or one whose uninstall was recorded.
    Anything else (a webhook connection, another application, another token) is refused: an
    install never silently replaces a connection."""
    existing = await find_connection(conn, inst.member_id, inst.domain)
    if existing is not None:
        if existing.mode != "app":
            raise InstallConflict(
                f"portal {existing.portal_id} is connected by webhook; disconnect it first"
            )
        if existing.client_id not in (None, inst.client_id):  # None: installed before 0009
            raise InstallConflict(f"portal {existing.portal_id} is connected by another app")
        if existing.status == "active" and not existing.token_matches(inst.application_token):
            raise InstallConflict(
                f"portal {existing.portal_id} is connected with another application token"
            )
    portal_id = await ensure_portal(conn, inst.member_id, inst.domain)
    values = {
        "mode": "app",
        "client_id": inst.client_id,
        "domain": inst.domain,
        "client_endpoint": inst.client_endpoint,
        "access_token": inst.access_token,
        "refresh_token": inst.refresh_token,
        "token_expires_at": now + timedelta(seconds=inst.expires_in),
        "application_token": inst.application_token,
        "status": "active",
    }
    await conn.execute(
        insert(b24_connections)
        .values(portal_id=portal_id, **values)
        .on_conflict_do_update(
            index_elements=["portal_id"],
            set_={**values, "token_version": b24_connections.c.token_version + 1},
        )
    )
    return await get_connection(conn, portal_id)


async def get_connection(conn: AsyncConnection, portal_id: int) -> Connection:
    row = (await conn.execute(_select().where(b24_connections.c.portal_id == portal_id))).first()
    if row is None:
        raise UnknownPortal(f"portal {portal_id} is not connected")
    return _row(row)


async def is_connected(conn: AsyncConnection, portal_id: int) -> bool:
    """Whether the portal is an active Bitrix24 connection (not a local book)."""
    found = await conn.scalar(
        select(b24_connections.c.portal_id).where(
            b24_connections.c.portal_id == portal_id, b24_connections.c.status == "active"
        )
    )
    return found is not None


async def find_connection(conn: AsyncConnection, member_id: str, domain: str) -> Connection | None:
    """The portal an event names: by ``member_id``, else a webhook portal of that domain still
    waiting to learn its ``member_id``."""
    row = (await conn.execute(_select().where(portals.c.member_id == member_id))).first()
    if row is None and domain:
        row = (
            await conn.execute(_select().where(portals.c.member_id == f"domain:{domain}"))
        ).first()
    return _row(row) if row else None


async def adopt_member_id(conn: AsyncConnection, connection: Connection, member_id: str) -> None:
    if connection.member_id.startswith("domain:") and member_id:
        await conn.execute(
            update(portals).where(portals.c.id == connection.portal_id).values(member_id=member_id)
        )


async def active_connections(conn: AsyncConnection) -> list[Connection]:
    rows = await conn.execute(_select().where(b24_connections.c.status == "active"))
    return [_row(r) for r in rows]


async def find_by_reference(conn: AsyncConnection, ref: str) -> Connection:
    """A portal named on the command line: its id, member_id or domain."""
    query = _select()
    if ref.isdigit():
        query = query.where(b24_connections.c.portal_id == int(ref))
    else:
        query = query.where(
            (portals.c.member_id == ref)
            | (b24_connections.c.domain == ref)
            | (portals.c.member_id == f"domain:{ref}")
        )
    rows = (await conn.execute(query)).all()
    if len(rows) != 1:
        raise UnknownPortal(f"no single connected portal matches {ref!r}")
    return _row(rows[0])


async def attach_program(
    conn: AsyncConnection, portal_id: int, program: Program, source: str
) -> Book:
    book = await program_book(conn, portal_id, program, source)
    await conn.execute(
        update(b24_connections)
        .where(b24_connections.c.portal_id == portal_id)
        .values(program_id=book.program_id)
    )
    return book


_programs: dict[str, Program] = {}


async def portal_program(conn: AsyncConnection, connection: Connection) -> tuple[Book, Program]:
    """The portal's program at its newest version (parsed once per process and hash)."""
    if connection.program_id is None:
        raise NoProgram(
            f"portal {connection.domain} has no program: run `kopilka connect … --program FILE`"
        )
    row = (
        await conn.execute(
            select(programs.c.code, programs.c.timezone, program_versions)
            .join(program_versions, program_versions.c.program_id == programs.c.id)
            .where(programs.c.id == connection.program_id)
            .order_by(program_versions.c.loaded_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        raise NoProgram(f"program {connection.program_id} has no loaded version")
    m = row._mapping
    program = _programs.get(m["hash"])
    if program is None:
        program = _programs[m["hash"]] = parse_program(m["source"], m["source_name"], stored=True)
    book = await ensure_book(
        conn,
        connection.portal_id,
        code=m["code"],
        title=program.title,
        timezone=m["timezone"],
        program_hash=m["hash"],
    )
    return book, program


async def set_field_map(conn: AsyncConnection, portal_id: int, field_map: dict[str, Any]) -> None:
    await conn.execute(
        update(b24_connections)
        .where(b24_connections.c.portal_id == portal_id)
        .values(field_map=field_map, provisioned_at=func.now())
    )


async def mark_uninstalled(conn: AsyncConnection, portal_id: int) -> None:
    await conn.execute(
        update(b24_connections)
        .where(b24_connections.c.portal_id == portal_id)
        .values(status="uninstalled", access_token=None)
    )
