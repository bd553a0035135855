"""Fixtures for the emulator's own tests: a portal, its server, a webhook and a client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from b24emu import EmuServer, Portal, RateLimit
from b24emu.params import parse_query


@pytest.fixture
def portal() -> Iterator[Portal]:
    p = Portal()
    yield p
    p.close()


@pytest.fixture
def server(portal: Portal) -> Iterator[EmuServer]:
    with EmuServer(portal) as srv:
        yield srv


@pytest.fixture
def hook(server: EmuServer, portal: Portal) -> str:
    return portal.add_webhook(user_id=1, scopes=("crm", "im", "lists", "user", "bizproc"))


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


def no_rate_limit(portal: Portal) -> None:
    portal.rate_limit = RateLimit(enabled=False)


class Receiver:
    """A tiny HTTP endpoint that records form POSTs (event handlers, install callbacks)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.raw: list[tuple[str, str]] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                with receiver._lock:
                    receiver.raw.append((self.headers.get("Content-Type", ""), body))
                    receiver.posts.append(parse_query(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/handler"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def pairs(self, index: int) -> list[tuple[str, str]]:
        return parse_qsl(self.raw[index][1], keep_blank_values=True)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()
