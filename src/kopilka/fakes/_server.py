"""The HTTP server under every provider fake: :class:`LocalServer` (a thread on 127.0.0.1, a free
port, a context manager; a fake brings its own request handler) and :class:`FakeServer` on top of
it (form bodies, and the fault knobs: answer errors, stall before or after accepting)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Fault:
    """What the next request meets: an error answer (``error``), or a stall of ``seconds``
    before answering, after recording the message when ``accept`` is set."""

    error: Any = None
    seconds: float = 0.0
    accept: bool = False


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    """Answer a request with a JSON body (a client that gave up waiting is not an error)."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass


class LocalServer:
    """A request handler served by a thread on 127.0.0.1 at a free port; ``with`` starts and
    stops it. Subclasses implement :meth:`start` by building their handler and calling
    :meth:`_run` with it."""

    def __init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the fake first (with FakeX(...) as fake)"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        raise NotImplementedError

    def _run(self, handler: type[BaseHTTPRequestHandler]) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FakeServer(LocalServer):
    """Subclasses implement :meth:`handle` (path, form) → (HTTP status, JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.requests = 0
        self._faults: list[Fault] = []
        self._stopping = threading.Event()

    # --- knobs -------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, error: Any = None) -> None:
        """The next ``n`` requests are answered with the provider's error ``error`` (each fake
        has a default: a temporary failure) and nothing is accepted."""
        with self.lock:
            self._faults += [Fault(error=error if error is not None else self.default_error)] * n

    def stall_next(self, n: int = 1, seconds: float = 30.0, *, accept: bool = False) -> None:
        """The next ``n`` requests wait ``seconds`` before answering, so a client with a shorter
        timeout gives up. With ``accept`` the message is recorded first (the provider took it;
        only the answer is late)."""
        with self.lock:
            self._faults += [Fault(seconds=seconds, accept=accept)] * n

    def heal(self) -> None:
        with self.lock:
            self._faults.clear()

    default_error: Any = None

    # --- to implement ------------------------------------------------------------------------
    def handle(self, path: str, form: dict[str, str], fault: Fault | None) -> tuple[int, Any]:
        raise NotImplementedError

    # --- running -----------------------------------------------------------------------------
    def take_fault(self) -> Fault | None:
        with self.lock:
            self.requests += 1
            return self._faults.pop(0) if self._faults else None

    def pause(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = urlsplit(self.path)
                form = dict(parse_qsl(parts.query, keep_blank_values=True))
                form.update(parse_qsl(body, keep_blank_values=True))
                self._answer(*fake.handle(parts.path, form, fake.take_fault()))

            do_GET = do_POST

            def _answer(self, status: int, payload: Any) -> None:
                send_json(self, status, payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._run(Handler)

    def stop(self) -> None:
        self._stopping.set()  # a stalled answer gives up at once
        super().stop()
