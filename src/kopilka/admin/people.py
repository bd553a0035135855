"""``/admin/people``: an owner adds people to the portal (owner, manager, viewer), sets their
limit on manual grants, and disables them; the bootstrap owner of the shared password may only
do this. Passwords are hashed off the event loop; every change is audited (:mod:`.users`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin import passwords, users
from kopilka.admin.auth import current
from kopilka.admin.i18n import pick, translator
from kopilka.admin.web import back, locale_of, page, to_login
from kopilka.b24app.contact_grant import typed_number
from kopilka.cabinet.web import csrf_ok, services_of
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand, KopilkaError
from kopilka.domain.money import to_minor

router = APIRouter()
MIN_PASSWORD = 10


def _limit(raw: str) -> int | None:
    raw = typed_number(raw)
    return to_minor(raw, allow_zero=True) if raw else None


@router.get("/people")
async def people_page(request: Request, note: str = "") -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    if not me.may("people"):
        return Response("forbidden", status_code=403)
    async with services_of(request).engine.connect() as conn:
        found = await users.list_users(conn, me.portal_id)
        locale = await locale_of(conn, me.portal_id)
    context = {"people": found, "note": note[:300], "roles": users.ROLES, "periods": users.PERIODS}
    return page(request, me, "admin_people.html", context, locale=locale)


@router.post("/people")
async def add_person(request: Request) -> Response:
    me = await current(request)
    if me is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(request, form) or not me.may("people"):
        return Response("forbidden", status_code=403)
    services = services_of(request)
    f = {k: str(v) for k, v in form.items()}
    async with services.engine.connect() as conn:
        a = translator(pick(request, await locale_of(conn, me.portal_id)))
    password = f.get("password", "")
    try:
        if len(password) < MIN_PASSWORD:
            raise InvalidCommand(f"the password has at least {MIN_PASSWORD} characters")
        limit = _limit(f.get("grant_limit", ""))
        hashed = await passwords.hash_off_loop(
            password, threads=services.settings.admin_hash_threads
        )

        async def unit(conn: AsyncConnection) -> int:
            return await users.add_user(
                conn,
                login=f.get("login", ""),
                name=f.get("name", ""),
                password_hash=hashed,
                portal_id=me.portal_id,
                role=f.get("role", ""),
                grant_limit=limit,
                grant_period=f.get("grant_period", "month"),
                actor=me.actor,
                now=services.now(),
            )

        await run_in_transaction(services.engine, unit)
    except KopilkaError as exc:
        return back("/admin/people", a("refused", why=exc.message))
    return back("/admin/people", a("created", login=users.check_login(f.get("login", ""))))


@router.post("/people/{user_id}")
async def change_person(request: Request, user_id: int) -> Response:
    """Change a person's role and limit in this portal, or disable them."""
    me = await current(request)
    if me is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(request, form) or not me.may("people"):
        return Response("forbidden", status_code=403)
    services = services_of(request)
    f = {k: str(v) for k, v in form.items()}
    async with services.engine.connect() as conn:
        a = translator(pick(request, await locale_of(conn, me.portal_id)))
        target = await users.user_by_id(conn, user_id)
    if target.role_in(me.portal_id) is None:
        return Response("not in this portal", status_code=404)
    try:
        limit = _limit(f.get("grant_limit", ""))

        async def unit(conn: AsyncConnection) -> None:
            if f.get("do") == "disable":
                if user_id == me.user_id:
                    raise InvalidCommand("you cannot disable yourself")
                await users.disable_user(conn, user_id, actor=me.actor, now=services.now())
                return
            await users.set_membership(
                conn,
                user_id,
                me.portal_id,
                role=f.get("role", ""),
                grant_limit=limit,
                grant_period=f.get("grant_period", "month"),
                actor=me.actor,
            )

        await run_in_transaction(services.engine, unit)
    except KopilkaError as exc:
        return back("/admin/people", a("refused", why=exc.message))
    return back("/admin/people", a("saved"))
