"""A local APNs over real HTTP/2 and TLS (hypercorn, in a thread on 127.0.0.1): it records each
push (device token, ``apns-topic``, headers, body, HTTP version) and answers 200, or what a test
scripted for a token (``410 Unregistered``, ``400 BadDeviceToken``, ``503``...).

hypercorn is a development dependency: this fake is for tests and local runs only."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class Push:
    device_token: str
    topic: str | None
    headers: dict[str, str]
    body: bytes
    http_version: str


@dataclass
class FakeApns:
    cert_file: Path  # the server's certificate chain (PEM), for 127.0.0.1
    key_file: Path
    pushes: list[Push] = field(default_factory=list)
    #: device token -> (status, reason): the answer for that token from now on
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    _port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._port}"

    def answer(self, device_token: str, status: int, reason: str) -> None:
        with self._lock:
            self.answers[device_token] = (status, reason)

    def received(self) -> list[Push]:
        with self._lock:
            return list(self.pushes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path: str = scope["path"]
        if scope["method"] != "POST" or not path.startswith("/3/device/"):
            await _reply(send, 404, {"reason": "BadPath"})
            return
        token = path.removeprefix("/3/device/")
        push = Push(token, headers.get("apns-topic"), headers, body, scope["http_version"])
        with self._lock:
            self.pushes.append(push)
            scripted = self.answers.get(token)
        if scripted is None:
            await _reply(send, 200, None)
        else:
            status, reason = scripted
            extra = {"timestamp": 1} if status == 410 else {}
            await _reply(send, status, {"reason": reason, **extra})

    # --- running -----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.set_inheritable(True)
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the APNs fake did not start")
        return self

    def _run(self, sock: socket.socket) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.certfile = str(self.cert_file)
        config.keyfile = str(self.key_file)
        config.alpn_protocols = ["h2"]
        config.accesslog = None
        config.errorlog = None

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await serve(self, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        asyncio.run(main())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)


async def _reply(send: Any, status: int, body: dict[str, Any] | None) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    headers = [(b"apns-id", b"00000000-0000-0000-0000-000000000000")]
    if data:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
