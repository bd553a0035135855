"""Connected portals: how to call them, how their events prove themselves, which program runs.

A portal is keyed by its ``member_id`` (it survives a domain change). Self-hosted installs connect
with an incoming webhook (calls) plus the outgoing webhook's token (events); the webhook does not
reveal the ``member_id``, so such a portal is stored under ``domain:<host>`` until its first
verified event names the real one. Apps are stored by the ONAPPINSTALL payload.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.domains import normal_domain
from kopilka.bitrix24.install import Installation
from kopilka.db.tables import b24_connections, portals
from kopilka.domain.errors import Conflict, InvalidCommand, NotFound
from kopilka.ledger.book import ensure_portal
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import active_program
from kopilka.program.model import Program


class UnknownPortal(NotFound):
    code = "unknown_portal"


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


def host_of(url: str) -> str:
    """The host a webhook URL names, normalised (refused when it names none)."""
    host = normal_domain(url)
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
    """Store a webhook connection. Connecting a
    portal Kopilka already has — named by its ``member_id``, by the webhook's host, or by the
    outgoing webhook's token (a webhook re-made, a second host name of one portal) — updates
    that record instead of making a second tenant that would sync the same deals twice."""
    if "/rest/" not in webhook_url:
        raise InvalidCommand("the webhook URL must look like https://<portal>/rest/<user>/<code>/")
    token = event_token.strip()
    if not token:
        raise InvalidCommand("the outgoing webhook's application token is empty")
    domain = host_of(webhook_url)
    url = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
    existing = await same_portal(conn, webhook_url, token, member_id)
    if existing is None:
        portal_id = await ensure_portal(conn, member_id or f"domain:{domain}", domain)
    else:
        if existing.mode != "webhook":
            raise InstallConflict(
                f"portal {existing.portal_id} is installed as an application; it needs no webhook"
            )
        if member_id and not existing.member_id.startswith("domain:"):
            if existing.member_id != member_id:
                raise InstallConflict(
                    f"portal {existing.portal_id} has member_id {existing.member_id}, "
                    f"not {member_id}"
                )
        await adopt_member_id(conn, existing, member_id or "")
        portal_id = existing.portal_id
    values = {
        "mode": "webhook",
        # a portal already known keeps the domain it was known by (a second host name of it
        # is only where calls go)
        "domain": existing.domain if existing is not None else domain,
        "webhook_url": url,
        "application_token": token,
        "status": "active",
    }
    await conn.execute(
        insert(b24_connections)
        .values(portal_id=portal_id, **values)
        .on_conflict_do_update(index_elements=["portal_id"], set_=values)
    )
    return await get_connection(conn, portal_id)


def _site(url: str | None) -> str | None:
    """Where a webhook URL points: its host and any port (two portals on one host are told
    apart by the port; ``domain`` keeps the host alone, as events name it)."""
    if not url:
        return None
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").rstrip(".").lower()
    return f"{host}:{parts.port}" if parts.port not in (None, 80, 443) else host


async def same_portal(
    conn: AsyncConnection, webhook_url: str, token: str, member_id: str | None = None
) -> Connection | None:
    """The connection a new webhook belongs to, if Kopilka has it already: the same
    ``member_id``; else, unless the connection names another ``member_id`` than the one
    given, the same site (host and port) or the same outgoing webhook (its token is the
    portal's)."""
    site, host = _site(webhook_url), normal_domain(webhook_url)

    def same(c: Connection) -> bool:
        if member_id and c.member_id == member_id:
            return True
        if member_id and not c.member_id.startswith("domain:"):
            return False  # the portal has said who it is, and it is another
        if c.mode != "webhook":
            return c.domain == host
        return (
            c.domain == host  # the host it was first connected by
            or _site(c.webhook_url) == site  # None once disconnected
            or c.token_matches(token)
        )

    found = {c.portal_id: c for c in [_row(r) for r in await conn.execute(_select())] if same(c)}
    if len(found) > 1:
        raise InstallConflict(
            f"this webhook matches portals {', '.join(map(str, sorted(found)))}: "
            "disconnect the wrong one first (`kopilka portal disconnect`)"
        )
    return next(iter(found.values()), None)


class InstallConflict(Conflict):
    code = "install_conflict"


async def install_app(conn: AsyncConnection, inst: Installation, now: datetime) -> Connection:
    """Store a proven installation (:mod:`kopilka.bitrix24.install`). A new portal is added; an
    existing connection is updated only when it is this same application already installed
    there — same ``client_id`` and application token, or one whose uninstall was recorded.
    Anything else (a webhook connection, another application, another token) is refused: an
    install never silently replaces a connection."""
    existing = await find_connection(conn, inst.member_id, inst.domain)
    if existing is not None and existing.status != "disconnected":  # disconnected: free to take
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
    """The portal an event names: by ``member_id``, else a webhook portal of that domain (compared
    normalised: :func:`~kopilka.bitrix24.domains.normal_domain`) still waiting to learn its
    ``member_id``. One statement, so that an event arriving while another one teaches the portal
    its ``member_id`` sees the portal under one name or the other, never under neither."""
    names = [n for n in (member_id, f"domain:{normal_domain(domain)}" if domain else "") if n]
    if not names:
        return None
    row = (
        await conn.execute(
            _select()
            .where(portals.c.member_id.in_(names))
            .order_by((portals.c.member_id == names[0]).desc())
            .limit(1)
        )
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


async def portal_program(
    conn: AsyncConnection, connection: Connection, at: datetime | None = None
) -> tuple[Book, Program]:
    """The connected portal's book and the version of its program in force at ``at`` (default:
    now); see :func:`kopilka.lifecycle.service.active_program`."""
    return await active_program(conn, connection.portal_id, at or datetime.now(UTC))


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
