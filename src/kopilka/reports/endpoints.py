"""``/admin/reports``: the owner's numbers for a portal and a range, as a page with charts and
each report as CSV or XLSX. Behind the admin's login; :func:`report_access` is the one check."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from kopilka.admin.access import admin_session
from kopilka.admin.pages import env
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.web import finish, render, services_of
from kopilka.lifecycle.service import NoProgram, active_program
from kopilka.reports.exports import NAMES, file_name, tables, to_csv, to_xlsx
from kopilka.reports.schemas import BadRange, Range, Report
from kopilka.reports.service import build_report
from kopilka.reports.view import pictures
from kopilka.reports.words import words

router = APIRouter(prefix="/admin", include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def report_access(request: Request) -> int | None:
    """The portal whose reports the caller may read (an open admin session's), else None.
    The one place the reports decide who may see them."""
    session = await admin_session(request, "reports")
    return session.portal_id if session is not None else None


def parse_range(first: str, last: str, tz: ZoneInfo, now: datetime) -> Range:
    """``from``/``to`` as typed (YYYY-MM-DD); by default the last twelve months to today."""
    today = now.astimezone(tz).date()
    try:
        end = date.fromisoformat(last) if last else today
        if first:
            start = date.fromisoformat(first)
        else:
            month = end.month - 11
            start = date(end.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    except ValueError:
        raise BadRange("dates are written YYYY-MM-DD") from None
    return Range(start, end, tz)


async def _report(request: Request, first: str, last: str) -> Report | Response:
    portal_id = await report_access(request)
    if portal_id is None:
        return RedirectResponse("/admin/login", status_code=303)
    services = services_of(request)
    now = services.now()
    w = words(pick_lang(request))
    async with services.engine.connect() as conn:
        # One snapshot for every figure: the reports agree with each other.
        await conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            book, program = await active_program(conn, portal_id, now)
        except NoProgram:
            context = {"w": w, "error": w("no_program")}
            return render(env, request, "reports.html", context, status=404)
        try:
            span = parse_range(first, last, program.tz, now)
        except BadRange as e:
            error = f"{w('bad_range')}: {e}"
            context = {"w": w, "error": error, "first": first, "last": last}
            return render(env, request, "reports.html", context, status=400)
        return await build_report(conn, book, program, span, now)


@router.get("/reports")
async def reports_page(
    request: Request, first: str = Query("", alias="from"), last: str = Query("", alias="to")
) -> Response:
    report = await _report(request, first, last)
    if isinstance(report, Response):
        return report
    lang = pick_lang(request)
    w = words(lang)
    context = {
        "w": w,
        "report": report,
        "tables": tables(report, w),
        "charts": pictures(report, w, lang),
        "first": report.range.first.isoformat(),
        "last": report.range.last.isoformat(),
        "error": None,
    }
    return render(env, request, "reports.html", context)


@router.get("/reports/{name}.csv")
async def report_csv(
    request: Request,
    name: str,
    first: str = Query("", alias="from"),
    last: str = Query("", alias="to"),
) -> Response:
    return await _export(request, name, first, last, "csv")


@router.get("/reports/{name}.xlsx")
async def report_xlsx(
    request: Request,
    name: str,
    first: str = Query("", alias="from"),
    last: str = Query("", alias="to"),
) -> Response:
    return await _export(request, name, first, last, "xlsx")


async def _export(request: Request, name: str, first: str, last: str, suffix: str) -> Response:
    if name not in NAMES:
        return Response(f"no report named {name!r}", status_code=404, media_type="text/plain")
    report = await _report(request, first, last)
    if isinstance(report, Response):
        return report
    table = tables(report, words(pick_lang(request)))[name]
    body, media = (
        (to_csv(table), "text/csv; charset=utf-8")
        if suffix == "csv"
        else (
            to_xlsx(table),
            XLSX,
        )
    )
    filename = file_name(table, report.range.first, report.range.last, suffix)
    response = Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    finish(request, response)
    return response
