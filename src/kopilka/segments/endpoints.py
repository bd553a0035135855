"""``/admin/segments``: the program's mailing segments, each exported to its UniSender list or
downloaded as CSV on demand, and the exports so far (daily ones included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kopilka.admin.access import admin_session, to_login
from kopilka.admin.ops_texts import known, ops_translator
from kopilka.admin.web import env
from kopilka.api.portal import current_program
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.web import csrf_ok, finish, render, services_of
from kopilka.domain.errors import NotFound
from kopilka.segments import queries
from kopilka.segments.exports import export_csv, export_unisender
from kopilka.segments.service import SegmentError

router = APIRouter(prefix="/admin/segments", include_in_schema=False)
ADMIN = Path(__file__).parents[1] / "admin" / "templates"


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    o = ops_translator(pick_lang(request))
    return render(env, request, "operations_segments.html", {"o": o, **context}, status=status)


async def _context(request: Request, portal_id: int) -> dict[str, Any]:
    async with services_of(request).engine.connect() as conn:
        try:
            _book, program = await current_program(conn, portal_id)
            segments = program.mailing.segments
        except NotFound:
            segments = {}
        exports = await queries.recent_exports(conn, portal_id)
    return {"segments": segments, "exports": exports, "error": None}


@router.get("")
async def segments_page(request: Request) -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    context = await _context(request, session.portal_id)
    return _page(request, context | {"done": known(request.query_params.get("done"))})


@router.post("/{name}/{target}")
async def export(request: Request, name: str, target: str) -> Response:
    session = await admin_session(request, "operations")
    if session is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(request, form) or target not in ("unisender", "csv"):
        context = await _context(request, session.portal_id)
        return _page(request, context | {"error": "csrf"}, status=403)
    services = services_of(request)
    try:
        if target == "csv":
            _out, text = await export_csv(
                services, session.portal_id, name, trigger="admin", actor=session.actor
            )
            response = Response(text, media_type="text/csv; charset=utf-8")
            filename = quote(f"{name}.csv")
            response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
            finish(request, response)
            return response
        out = await export_unisender(
            services, session.portal_id, name, trigger="admin", actor=session.actor
        )
    except SegmentError as exc:
        context = await _context(request, session.portal_id)
        return _page(request, context | {"error": f"seg.err.{exc.code}"}, status=400)
    done = "seg.failed" if out.error else "seg.done"
    return RedirectResponse(f"/admin/segments?done={done}#exports", status_code=303)
