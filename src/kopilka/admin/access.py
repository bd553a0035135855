"""Who may see the admin's pages: the one access check every admin page makes (today the admin
session of ``/admin/login``; named users and roles will answer here)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from kopilka.cabinet import sessions
from kopilka.cabinet.web import services_of

COOKIE = "kop_admin"


async def admin_session(request: Request) -> sessions.Session | None:
    """The signed-in administrator's session, or None."""
    services = services_of(request)
    async with services.engine.connect() as conn:
        return await sessions.find_session(
            conn, "admin", request.cookies.get(COOKIE), services.now()
        )


def to_login() -> RedirectResponse:
    return RedirectResponse("/admin/login", status_code=303)
