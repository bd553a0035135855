"""The portal's UI side for applications: the index, CRM cards with placement tabs, the app
page and its installer (frames posted as in §1.2.4 / §12.2), the stub BX24 library, and the
control routes the portal page's script calls (``installFinish``, ``refreshAuth``)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from b24emu import cards
from b24emu.auth import App
from b24emu.frames import finish_install, is_admin, open_frame, placement_title, refresh_frame

if TYPE_CHECKING:
    from b24emu.portal import Portal

STATIC = Path(__file__).parent / "static"
CARD_FIELDS = {
    "contact": ["ID", "NAME", "LAST_NAME", "PHONE", "EMAIL", "TYPE_ID", "BIRTHDATE"],
    "deal": ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID", "CATEGORY_ID"],
}
ENTITY = {"contact": "CRM_CONTACT", "deal": "CRM_DEAL"}


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def page_routes(portal: Portal) -> list[Route]:
    def acting(request: Request) -> int | None:
        raw = request.query_params.get("as", "1")
        user_id = int(raw) if raw.isdigit() else 0
        return user_id if portal.users.get(user_id, {}).get("ACTIVE") else None

    def not_found(user_id: int, text: str = "Страница не найдена") -> HTMLResponse:
        return _html(cards.layout(portal, text, cards.notice(text), user_id), 404)

    async def index(request: Request) -> Response:
        user_id = acting(request)
        if user_id is None:
            return not_found(1, "Нет такого сотрудника")
        return _html(cards.index(portal, user_id))

    def tabs_for(code: str) -> list[tuple[dict[str, Any], App]]:
        found = []
        for placement in list(portal.placements):
            app = portal.auth.apps.get(placement["app"])
            if placement["placement"] == code and app is not None and app.installed:
                found.append((placement, app))
        return found

    async def card(request: Request) -> Response:
        kind = request.path_params["kind"]
        entity_id = request.path_params["entity_id"]
        user_id = acting(request)
        if user_id is None:
            return not_found(1, "Нет такого сотрудника")
        if kind not in ENTITY:
            return not_found(user_id)
        records = portal.contacts if kind == "contact" else portal.deals
        record = records.get(entity_id)
        if record is None:
            return not_found(user_id)
        code = f"CRM_{kind.upper()}_DETAIL_TAB"
        tabs = tabs_for(code)
        raw_tab = request.query_params.get("tab", "")
        active = int(raw_tab) if raw_tab.isdigit() and int(raw_tab) < len(tabs) else None
        base = f"/portal/crm/{kind}/details/{entity_id}/"
        strip = cards.tab_strip(
            base, user_id, [(code, placement_title(portal, p, a)) for p, a in tabs], active
        )
        if active is not None:
            placement, app = tabs[active]
            options: dict[str, Any] = {"ID": str(entity_id)}
            if portal.placement_uri:
                options["URI"] = (
                    f"/crm/{kind}/details/{entity_id}/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER"
                )
            post = open_frame(portal, app, user_id, placement["handler"], code, options)
            content = cards.frame_area(post, _origin(request))
        else:
            content = cards.fields_table(portal, ENTITY[kind], record, CARD_FIELDS[kind])
            if kind == "deal":
                content += cards.deal_contacts(portal, entity_id, user_id)
                content += cards.deal_rows(portal, entity_id)
        title, head = cards.card_head(portal, kind, record)
        body = f'<div class="card">{head}</div>{strip}'
        body += f'<div class="card" id="tab-content">{content}</div>'
        return _html(cards.layout(portal, title, body, user_id))

    def app_of(request: Request) -> App | None:
        app = portal.auth.apps.get(request.path_params["client_id"])
        return app if app is not None and app.app_url else None

    def installer(request: Request, app: App, user_id: int) -> Response:
        if not is_admin(portal, user_id):
            text = "Приложение ещё не установлено полностью. Обратитесь к администратору."
            return _html(cards.layout(portal, app.client_id, cards.notice(text), user_id), 403)
        handler = app.install_url or app.app_url
        assert handler is not None
        post = open_frame(portal, app, user_id, handler, "DEFAULT", {}, install=True)
        body = f'<h1 id="app-title">Установка {escape(app.client_id)}</h1>'
        body += cards.frame_area(post, _origin(request))
        return _html(cards.layout(portal, app.client_id, body, user_id))

    async def app_page(request: Request) -> Response:
        user_id = acting(request)
        app = app_of(request)
        if user_id is None or app is None:
            return not_found(user_id or 1)
        if not app.installed:
            if app.install_url or not is_admin(portal, user_id):
                return installer(request, app, user_id)
            with portal.lock:  # no installer: the first opening by an admin installs it
                app.installed = True
        assert app.app_url is not None
        post = open_frame(portal, app, user_id, app.app_url, "DEFAULT", {})
        body = f'<h1 id="app-title">{escape(app.client_id)}</h1>'
        body += cards.frame_area(post, _origin(request))
        return _html(cards.layout(portal, app.client_id, body, user_id))

    async def install_page(request: Request) -> Response:
        user_id = acting(request)
        app = app_of(request)
        if user_id is None or app is None:
            return not_found(user_id or 1)
        if app.installed:
            return RedirectResponse(f"/portal/apps/{app.client_id}/?as={user_id}", 303)
        return installer(request, app, user_id)

    async def install_finish(request: Request) -> Response:
        app = finish_install(portal, request.path_params["sid"])
        if app is None:
            return JSONResponse({"installed": False})
        frame = portal.frames.get(request.path_params["sid"])
        assert frame is not None
        target = f"/portal/apps/{app.client_id}/?as={frame.user_id}"
        return JSONResponse({"installed": True, "redirect": target})

    async def refresh_auth(request: Request) -> Response:
        tokens = refresh_frame(portal, request.path_params["sid"])
        if tokens is None:
            return JSONResponse({"error": "unknown frame"}, status_code=404)
        return JSONResponse(tokens)

    def static(name: str, media: str) -> Any:
        async def serve(request: Request) -> Response:
            text = (STATIC / name).read_text(encoding="utf-8")
            return Response(text, media_type=media, headers={"Cache-Control": "no-store"})

        return serve

    js = "application/javascript; charset=utf-8"
    return [
        Route("/portal/", index, methods=["GET"]),
        Route("/portal", index, methods=["GET"]),
        Route("/portal/crm/{kind:str}/details/{entity_id:int}/", card, methods=["GET"]),
        Route("/portal/apps/{client_id}/", app_page, methods=["GET"]),
        Route("/portal/apps/{client_id}/install", install_page, methods=["GET"]),
        Route("/portal/frames/{sid}/install-finish", install_finish, methods=["POST"]),
        Route("/portal/frames/{sid}/refresh-auth", refresh_auth, methods=["POST"]),
        Route("/portal/static/portal.js", static("portal.js", js), methods=["GET"]),
        Route("/bx24/api/v1/", static("bx24.js", js), methods=["GET"]),
        Route("/bx24/api/v1", static("bx24.js", js), methods=["GET"]),
    ]
