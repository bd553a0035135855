"""Who may see the admin's pages that other features add (operations, segments, campaigns,
reports): the person signed in (:func:`kopilka.admin.auth.current`) and what their role allows
(:meth:`~kopilka.admin.auth.AdminSession.may`) — one check, the same as the admin's own pages."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from kopilka.admin.auth import COOKIE, AdminSession, current

__all__ = ["COOKIE", "admin_session", "to_login"]


async def admin_session(request: Request, may: str = "read") -> AdminSession | None:
    """The signed-in person when their role allows ``may`` on the portal they look at, else
    None (the page sends them to the login; its link is not shown to a role without it)."""
    me = await current(request)
    return me if me is not None and me.may(may) else None


def to_login() -> RedirectResponse:
    return RedirectResponse("/admin/login", status_code=303)
