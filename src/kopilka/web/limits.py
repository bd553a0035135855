"""A cap on every request body, enforced before any handler reads it.

A handler that reads the whole body (a form, JSON) would otherwise buffer whatever a client sends,
authenticated or not: a 300 MB post to ``/b24/events`` once grew the process by 1.2 GiB before
the event's token was even looked at. A declared ``Content-Length`` over the cap is refused at
once; a body without one (chunked) is read up to the cap and refused as soon as it passes it;
either way the answer is 413 and the application never sees the request.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        if declared is not None:  # the server holds the client to it
            await self.app(scope, receive, send)
            return
        body, more = b"", True  # no length given: read it here, up to the cap
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)

    async def _refuse(self, send: Send) -> None:
        error = {
            "code": "body_too_large",
            "message": f"the request body is larger than {self.max_bytes} bytes",
        }
        await send_error(send, 413, error, [(b"connection", b"close")])


async def send_error(
    send: Send, status: int, error: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    """Answer a raw ASGI request with ``{"error": error}`` as JSON, before any route runs (the
    body cap here, the in-flight bound in :mod:`.inflight`)."""
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], then: Receive) -> Receive:
    """The messages already read, then the server's own (a disconnect, when it comes)."""
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0) if queue else await then()

    return receive
