"""The database out of reach answers 503 with ``Retry-After``, not 500 (issue 16).

A request that finds PostgreSQL gone (refused, restarting, the connection cut) has done nothing:
its unit of work rolled back. The client is told to come back later in the one error shape.
Bitrix24 retries no event, so events refused meanwhile are repaired by the sweep that the worker
runs as soon as the database is back (docs/operations.md).
"""

from __future__ import annotations

import logging

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


def install_unavailable_handler(app: FastAPI, retry_after: int) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc
        log.warning("database unavailable: %s %s (%s)", request.method, request.url.path,
                    type(getattr(exc, "orig", None) or exc).__name__)  # fmt: skip
        return error_response(
            503,
            "database_unavailable",
            "the service is briefly unavailable, try again later",
            headers={"Retry-After": str(retry_after)},
        )

    app.add_exception_handler(DBAPIError, handle)
    app.add_exception_handler(PoolTimeout, handle)
