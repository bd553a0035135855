"""The database out of reach answers 503 with ``Retry-After``, not 500 (issue 16).

A request that finds PostgreSQL gone (refused, restarting, the connection cut) has done nothing:
its unit of work rolled back. The client is told to come back later in the one error shape.
Bitrix24 retries no event, so events refused meanwhile are repaired by the sweep that the worker
runs as soon as the database is back (docs/operations.md).
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kopilka.api.errors import error_response

log = logging.getLogger(__name__)


def database_unavailable(exc: BaseException) -> bool:
    """True for the errors of a database out of reach, false for a bug or a refused write."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class _Quiet:
    """One log line per ``every`` seconds, with the count since the last: an outage refuses
    every request, and a line for each would bury the logs."""

    def __init__(self, every: float = 10.0) -> None:
        self.every, self.last, self.count = every, float("-inf"), 0

    def warn(self, message: str, *args: object) -> None:
        self.count += 1
        if time.monotonic() - self.last >= self.every:
            log.warning(message + " (%d refused since the last such line)", *args, self.count)
            self.last, self.count = time.monotonic(), 0


def install_unavailable_handler(app: FastAPI, retry_after: int) -> None:
    quiet = _Quiet()

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc
        cause = type(getattr(exc, "orig", None) or exc).__name__
        if isinstance(exc, PoolTimeout):  # the database is there, every connection is busy
            quiet.warn("no database connection free in time: %s %s", request.method,
                       request.url.path)  # fmt: skip
            code, message = "overloaded", "the service is busy, try again shortly"
        else:
            quiet.warn("database unavailable (%s): %s %s", cause, request.method,
                       request.url.path)  # fmt: skip
            code, message = "database_unavailable", "the service is briefly unavailable"
        return error_response(503, code, message, headers={"Retry-After": str(retry_after)})

    app.add_exception_handler(DBAPIError, handle)
    app.add_exception_handler(PoolTimeout, handle)
