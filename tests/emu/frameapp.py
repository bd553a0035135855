"""A tiny app with UI for the emulator's frame tests: an installer that binds a contact tab
and an event with the token it was posted, then waits for a click to call
``BX24.installFinish()``; an app page and a tab page that show what they got."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from html import escape
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from b24emu import EmuServer, Portal

CLIENT = "local.6a1b2c3d4e5f60.12345678"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


class FrameApp:
    """Serves on 127.0.0.1 in its own thread; records every POST it was sent."""

    def __init__(self, emu_url: str) -> None:
        self.emu_url = emu_url
        self.posts: list[dict[str, Any]] = []  # {"path", "query", "form"}
        self.events: list[dict[str, str]] = []
        self.sock = free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _page(self, title: str, body: str) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<script src="{self.emu_url}/bx24/api/v1/"></script></head>'
            f"<body>{body}<script>{SCRIPT}</script></body></html>"
        )

    async def _record(self, request: Request) -> dict[str, Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        post = {"path": request.url.path, "query": dict(request.query_params), "form": form}
        self.posts.append(post)
        return post

    async def _user(self, form: dict[str, str]) -> dict[str, Any]:
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(
                f"{self.emu_url}/rest/user.current", data={"auth": form["AUTH_ID"]}
            )
        result: dict[str, Any] = answer.json().get("result", {})
        return result

    async def install(self, request: Request) -> Response:
        post = await self._record(request)
        token = post["form"]["AUTH_ID"]
        async with httpx.AsyncClient(trust_env=False) as client:
            for method, params in (
                (
                    "placement.bind",
                    {
                        "PLACEMENT": "CRM_CONTACT_DETAIL_TAB",
                        "HANDLER": self.url + "/tab",
                        "TITLE": "Loyalty",
                        "LANG_ALL": {"ru": {"TITLE": "Бонусы"}, "en": {"TITLE": "Bonus"}},
                    },
                ),
                (
                    "event.bind",
                    {"event": "ONCRMCONTACTUPDATE", "handler": self.url + "/events"},
                ),
            ):
                answer = await client.post(
                    f"{self.emu_url}/rest/{method}", json={**params, "auth": token}
                )
                assert answer.json().get("result") is True, answer.text
        body = '<h1>Установщик</h1><button id="finish" onclick="BX24.installFinish()">'
        body += "Готово</button>"
        return self._page("installer", body + _shown(post))

    async def page(self, request: Request) -> Response:
        post = await self._record(request)
        user = await self._user(post["form"])
        name = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}"
        body = f'<h1 id="kind">{escape(request.url.path)}</h1>'
        body += f'<p id="user-name">{escape(name)}</p>'
        body += '<a id="to-deal" href="#" onclick="BX24.openPath(\'/crm/deal/details/1/\')">'
        body += "сделка</a>"
        return self._page("page", body + _shown(post))

    async def event(self, request: Request) -> Response:
        self.events.append({k: str(v) for k, v in (await request.form()).items()})
        return Response("ok")

    def _run(self) -> None:
        app = Starlette(
            routes=[
                Route("/install", self.install, methods=["POST"]),
                Route("/app", self.page, methods=["POST"]),
                Route("/tab", self.page, methods=["POST"]),
                Route("/events", self.event, methods=["POST"]),
            ]
        )
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def __enter__(self) -> FrameApp:
        self.thread.start()
        for _ in range(500):
            if self.server is not None and self.server.started:
                return self
            threading.Event().wait(0.02)
        raise RuntimeError("the frame app did not start")

    def __exit__(self, *exc: Any) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(10)


def _shown(post: dict[str, Any]) -> str:
    """What the page was posted, for the test to read: ``#posted`` (JSON)."""
    data = escape(json.dumps(post, ensure_ascii=False))
    return f'<pre id="posted">{data}</pre><pre id="bx24">…</pre>'


# After BX24.init: what the library reports, as JSON in #bx24; user.current called from the
# browser (BX24.callMethod) in body[data-rest]; then a resize to 321 px high.
SCRIPT = """
BX24.init(function () {
  var auth = BX24.getAuth();
  document.getElementById('bx24').textContent = JSON.stringify({
    placement: BX24.placement.info(), admin: BX24.isAdmin(), auth: auth,
    lang: BX24.getLang(), domain: BX24.getDomain()});
  BX24.callMethod('user.current', {}, function (result) {
    document.body.setAttribute('data-rest', JSON.stringify(result.data()));
  });
  BX24.resizeWindow(700, 321, function (size) {
    document.body.setAttribute('data-resized', JSON.stringify(size));
  });
});
"""


@pytest.fixture(name="app")
def app_fixture(server: EmuServer, portal: Portal) -> Iterator[FrameApp]:
    portal.call("crm.contact.add", {"fields": {"NAME": "Анна", "LAST_NAME": "Смирнова"}})
    with FrameApp(server.url) as frame_app:
        portal.register_app(
            CLIENT,
            "secret",
            ("crm", "placement", "user"),
            app_url=frame_app.url + "/app",
            install_url=frame_app.url + "/install",
        )
        yield frame_app
