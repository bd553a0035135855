"""The app's installer (reference §1.2.4, §1.2.5 B): an install proven, its admin known, the
connection stored, and what only an application binds bound.

The installer frame's POST is a claim like ``ONAPPINSTALL``'s and is proven the same way
(:func:`kopilka.bitrix24.install.prove_installation`): Bitrix24's OAuth server, at the
configured URL, refreshes ``REFRESH_ID`` with our client secret and names the portal and its
endpoint. Nothing the request names (``DOMAIN``, ``SERVER_ENDPOINT``) is called. The fresh
token is then put to ``profile`` at the endpoint the OAuth server named: only a portal
administrator installs (any employee can read a ``REFRESH_ID`` in a tab's page, and the
stored tokens are what every later call runs as).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.schemas import AppUser
from kopilka.bitrix24.connections import Connection, set_field_map
from kopilka.bitrix24.offline.queries import delivery_of
from kopilka.bitrix24.provision import Provisioned, bind_app, provision
from kopilka.db.engine import run_in_transaction
from kopilka.lifecycle.service import NoProgram, active_program
from kopilka.process.services import Services
from kopilka.program.model import Program


def claim_of(form: dict[str, str]) -> dict[str, str]:
    """The installer POST's fields under the names ``prove_installation`` reads."""
    return {
        "member_id": form.get("member_id", ""),
        "refresh_token": form.get("REFRESH_ID", ""),
        "application_token": form.get("APPLICATION_TOKEN", ""),
    }


def admin_user(connection: Connection, profile: dict[str, Any], lang: str) -> AppUser:
    name = " ".join(str(profile.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    user_id = int(str(profile.get("ID") or "0")) if str(profile.get("ID", "")).isdigit() else 0
    return AppUser(
        portal_id=connection.portal_id,
        member_id=connection.member_id,
        user_id=user_id,
        name=name or f"#{user_id}",
        is_admin=True,
        lang=lang,
    )


async def set_up(
    services: Services, connection: Connection, now: datetime
) -> tuple[Provisioned, str | None]:
    """Bind the events, placements and robots; with a program (a re-install, an app update),
    provision its fields too and record them. With none, the fields wait for the program the
    administrator applies on the app page. What was done, and the program's title."""
    async with services.engine.connect() as conn:
        try:
            _book, program = await active_program(conn, connection.portal_id, now)
        except NoProgram:
            handler = services.settings.public_url.rstrip("/") + "/b24/events"
            client = services.client_for(connection)
            return await bind_app(client, Provisioned(), (), handler), None
    return await provision_program(services, connection, program, now), program.title


async def provision_program(
    services: Services,
    connection: Connection,
    program: Program,
    now: datetime,
) -> Provisioned:
    """The portal provisioned for ``program`` (its fields, events — for the portal's
    delivery, online or offline; in app mode placements and robots), what was created
    recorded on the connection."""
    async with services.engine.connect() as conn:
        offline = (await delivery_of(conn, connection.portal_id)).mode == "offline"
    handler = services.settings.public_url.rstrip("/") + "/b24/events"
    client = services.client_for(connection)
    done = await provision(client, connection, program, handler, now=now, offline=offline)

    async def store(conn: AsyncConnection) -> None:
        await set_field_map(conn, connection.portal_id, done.field_map)

    await run_in_transaction(services.engine, store)
    return done
