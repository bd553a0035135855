"""What every ``/api/v1`` endpoint shares: the scopes it asks for, the error answers it
documents, one transaction per request with business errors turned into the one error shape,
the customer a request names, and the replayable write (``Idempotency-Key``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError, ErrorResponse, FieldProblem
from kopilka.api.idempotency import HEADER, check_key, once
from kopilka.api.keys import ApiPrincipal, require_scope
from kopilka.api.portal import (
    CustomerRef,
    current_program,
    customer_by_card,
    customer_by_id,
    customer_by_phone,
)
from kopilka.api.schemas import (
    CustomerSelector,
)
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import (
    IdempotencyConflict,
    InvalidAmount,
    InvalidCommand,
    KopilkaError,
    NotFound,
)
from kopilka.domain.manual import ManualGrantRefused
from kopilka.ledger.types import Book
from kopilka.phones import InvalidPhone
from kopilka.process.services import Services
from kopilka.program.model import Program

T = TypeVar("T")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request (e.g. a missing Idempotency-Key)",
        401: "No or an invalid API key",
        403: "The API key lacks the scope",
        404: "Not found",
        409: "Conflicts with the ledger's state",
        422: "The request is not valid",
    }
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


READ_ERRORS = errors(401, 403, 404, 422)

WRITE_ERRORS = errors(400, 401, 403, 404, 409, 422)

Reader = Annotated[ApiPrincipal, Depends(require_scope("cards:read"))]

Till = Annotated[ApiPrincipal, Depends(require_scope("pos:write"))]

Granter = Annotated[ApiPrincipal, Depends(require_scope("grants:write"))]

IdemKey = Annotated[
    str | None,
    Header(alias=HEADER, description="unique per write; a retry with the same key replays"),
]


def as_api_error(exc: KopilkaError) -> ApiError:
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, IdempotencyConflict | ManualGrantRefused):
        status = 422
    elif isinstance(exc, InvalidAmount | InvalidCommand):
        status = 422
    else:
        status = 409
    return ApiError(status, exc.code, exc.message)


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


#: The portal's book and program, kept for a few seconds per process (a new program version is
#: seen within that time); the balance lookup then needs no program query at all.
PROGRAM_TTL = 5.0

_programs: dict[int, tuple[float, Book, Program]] = {}


async def program_for(conn: AsyncConnection, portal_id: int) -> tuple[Book, Program]:
    cached = _programs.get(portal_id)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    book, program = await current_program(conn, portal_id)
    _programs[portal_id] = (time.monotonic() + PROGRAM_TTL, book, program)
    return book, program


async def run(request: Request, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    try:
        return await run_in_transaction(services_of(request).engine, work)
    except KopilkaError as exc:
        raise as_api_error(exc) from None


async def read(request: Request, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """A read of one statement (or of values that need no common snapshot), outside a
    transaction: no BEGIN/COMMIT round trips on the hot lookup paths."""
    try:
        async with services_of(request).engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await work(conn)
    except KopilkaError as exc:
        raise as_api_error(exc) from None


async def select_customer(
    conn: AsyncConnection, portal_id: int, selector: CustomerSelector
) -> CustomerRef:
    if selector.customer_id is not None:
        return await customer_by_id(conn, portal_id, selector.customer_id)
    if selector.card is not None:
        return await customer_by_card(conn, portal_id, selector.card)
    assert selector.phone is not None
    try:
        return await customer_by_phone(conn, portal_id, selector.phone)
    except InvalidPhone as exc:
        raise ApiError(
            422,
            "invalid_phone",
            str(exc),
            [FieldProblem(field="customer.phone", code="invalid_phone", message=str(exc))],
        ) from None


def as_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def written(
    request: Request,
    who: ApiPrincipal,
    key: str | None,
    body: BaseModel,
    work: Callable[[AsyncConnection, Book, Program, datetime], Awaitable[BaseModel]],
    status: int = 200,
) -> JSONResponse:
    """A write: under its Idempotency-Key, in one transaction, answering the model as JSON."""
    idem = check_key(key)
    now = services_of(request).now()

    async def unit(conn: AsyncConnection) -> Any:
        book, program = await program_for(conn, who.portal_id)

        async def act() -> tuple[int, dict[str, Any]]:
            return status, as_json(await work(conn, book, program, now))

        return await once(conn, who.portal_id, idem, request.url.path, as_json(body), act)

    stored = await run(request, unit)
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)
