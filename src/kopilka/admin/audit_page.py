"""``/admin/audit``: the audit log of the portal being looked at (an owner's page), filtered by
person, action and dates (the program's time zone is not needed: dates are whole UTC days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kopilka.admin.auth import current
from kopilka.admin.web import locale_of, page, to_login
from kopilka.audit.queries import AuditFilter, actions, search
from kopilka.cabinet.web import services_of

router = APIRouter()
#: Details holding kopecks of points: shown as points.
MONEY = frozenset({"amount", "grant_limit", "threshold", "max_total"})


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
    except ValueError:
        return None


@router.get("/audit")
async def audit(
    request: Request, person: str = "", action: str = "", since: str = "", until: str = ""
) -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    if not me.may("audit"):
        return Response("forbidden", status_code=403)
    end = _day(until)
    found = AuditFilter(
        portal_ids=(me.portal_id,),
        actor=person.strip()[:100],
        action=action.strip()[:100],
        since=_day(since),
        until=end + timedelta(days=1) if end else None,
    )
    async with services_of(request).engine.connect() as conn:
        rows = await search(conn, found)
        known = await actions(conn, (me.portal_id,))
        locale = await locale_of(conn, me.portal_id)
    context = {
        "money": MONEY,
        "rows": rows,
        "known": known,
        "f": {"person": person, "action": action, "since": since, "until": until},
    }
    return page(request, me, "admin_audit.html", context, locale=locale)
