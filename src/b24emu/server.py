"""HTTP front (Starlette) and ``EmuServer``: uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from b24emu import errors
from b24emu.auth import oauth_token
from b24emu.pages import page_routes
from b24emu.params import decode_request
from b24emu.portal import Portal
from b24emu.wire import php_json

JSON = "application/json; charset=utf-8"


#: REST answers may be read by pages of other origins (BX24.callMethod in an app's frame)
CORS = {"Access-Control-Allow-Origin": "*"}


def _json(status: int, body: Any) -> Response:
    return Response(php_json(body), status_code=status, media_type=JSON, headers=CORS)


async def _params(request: Request) -> dict[str, Any]:
    body = await request.body()
    return decode_request(request.url.query, body, request.headers.get("content-type", ""))


def build_app(portal: Portal) -> Starlette:
    async def answer(status: int, body: dict[str, Any]) -> Response:
        delay = portal.faults.slow_seconds
        if delay > 0:
            await asyncio.sleep(delay)
        return _json(status, body)

    async def rest(request: Request) -> Response:
        parts = [p for p in request.path_params["path"].split("/") if p]
        if len(parts) == 3 and parts[0].isdigit():
            webhook: tuple[str, str] | None = (parts[0], parts[1])
            method = parts[2]
        elif len(parts) == 1:
            webhook, method = None, parts[0]
        else:
            return await answer(404, errors.system(errors.METHOD_NOT_FOUND).envelope())
        params = await _params(request)
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        source = request.client.host if request.client else "unknown"
        status, body = portal.handle_http(method, webhook, params, bearer, source)
        return await answer(status, body)

    async def token(request: Request) -> Response:
        params = await _params(request)
        with portal.lock:
            status, body = oauth_token(portal, params)
        return _json(status, body)

    async def oauth_rest(request: Request) -> Response:
        """``server_endpoint`` (``…/oauth/rest/``): OAuth-only calls such as ``app.info``."""
        params = await _params(request)
        source = request.client.host if request.client else "unknown"
        status, body = portal.handle_http(request.path_params["method"], None, params, None, source)
        return await answer(status, body)

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["GET", "POST"]),
            Route("/oauth/token/", token, methods=["GET", "POST"]),
            Route("/oauth/rest/{method}", oauth_rest, methods=["GET", "POST"]),
            Route("/rest/{path:path}", rest, methods=["GET", "POST"]),
            *page_routes(portal),  # the UI side of apps: cards, frames, the BX24 stub
        ]
    )


class EmuServer:
    """Serve a portal on ``127.0.0.1`` (port 0 = a free one) from a background thread.

    ``with EmuServer(portal) as server: server.url`` — the portal learns its base URL, so
    webhook URLs, ``client_endpoint`` and ``server_endpoint`` point at this server.
    """

    def __init__(
        self, portal: Portal | None = None, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.portal = portal if portal is not None else Portal()
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmuServer:
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets; without it h11's
        # separate header/body writes meet delayed ACKs and every answer takes ~40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.portal), log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"b24emu-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("b24emu server did not start")
            time.sleep(0.01)
        self.portal.base_url = self.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.portal.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> EmuServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
