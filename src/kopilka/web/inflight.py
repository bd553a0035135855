"""A bound on the requests one process handles at once (issue 16, "Overload").

Past the bound a request is refused at once with 503 and ``Retry-After`` instead of waiting in
line: a queue that grows faster than it drains turns every answer slow (200 requests/s at the
balance API once took 29 s at p99), while a fast refusal lets the client back off or try another
process, and keeps the answers that are given fast. ``/healthz`` and ``/metrics`` are never
refused: an operator must see an overloaded process as overloaded, not as dead.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from kopilka.web.limits import send_error

EXEMPT = frozenset({"/healthz", "/metrics"})


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int, retry_after: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            await self._refuse(send)
            return
        self.in_flight += 1  # one event loop per process: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        error = {
            "code": "overloaded",
            "message": "the service is busy, try again shortly",
            "details": [],
        }
        await send_error(send, 503, error, [(b"retry-after", str(self.retry_after).encode())])
