"""Site registration (R-18): ``POST /api/v1/registrations``.

The request is checked field by field (422 with a reason per field, nothing stored), stored
with its idempotency key and answered at once (202); a job then finds the contact by phone
(``crm.duplicate.findbycomm``) or creates it, issues the card, and queues the manager's to-do
for ``registration.todo_after_minutes`` later.

Idempotent: the key is the ``Idempotency-Key`` header, or else the phone. A retry with the same
key and the same data gets the first answer (200); the same key with other data is refused
(409). A job that dies after creating the contact finds it by phone on its next attempt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError, ErrorResponse, FieldProblem
from kopilka.api.keys import ApiPrincipal, require_scope
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import BIGINT_MAX, registrations
from kopilka.notify.deferred import defer_registration
from kopilka.phones import InvalidPhone, normalize_phone
from kopilka.process.services import Services

log = logging.getLogger("kopilka.registration.endpoints")
router = APIRouter(prefix="/api/v1", tags=["registrations"])

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


class RegistrationIn(BaseModel):
    """What the site sends. Types are loose on purpose: every field is checked below, so that a
    wrong value gets a reason in words, not a type error."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    email: str | None = None
    birth_date: str | None = None
    consent: Any = None


class RegistrationOut(BaseModel):
    id: int
    status: str
    contact_id: int | None = None


def _check(body: RegistrationIn, today: date) -> tuple[dict[str, Any], list[FieldProblem]]:
    problems: list[FieldProblem] = []
    clean: dict[str, Any] = {}

    def bad(field: str, code: str, message: str) -> None:
        problems.append(FieldProblem(field=field, code=code, message=message))

    name = (body.name or "").strip()
    if not name:
        bad("name", "required", "the name is required")
    elif len(name) > 100:
        bad("name", "too_long", "the name is longer than 100 characters")
    clean["name"] = name
    clean["last_name"] = (body.last_name or "").strip()[:100]
    if not (body.phone or "").strip():
        bad("phone", "required", "the phone is required")
    else:
        try:
            clean["phone"] = normalize_phone(body.phone or "")
        except InvalidPhone as exc:
            bad("phone", "invalid_phone", str(exc))
    email = (body.email or "").strip()
    if email and (not _EMAIL.match(email) or len(email) > 254):
        bad("email", "invalid_email", "not an e-mail address")
    clean["email"] = email.lower()
    clean["birth_date"] = None
    if body.birth_date:
        try:
            born = date.fromisoformat(body.birth_date.strip())
        except ValueError:
            bad("birth_date", "invalid_date", "write the date as YYYY-MM-DD")
        else:
            if born > today or born.year < 1900:
                bad("birth_date", "invalid_date", "the birth date is not plausible")
            clean["birth_date"] = born
    if body.consent is not True:
        bad("consent", "consent_required", "the customer's consent (true) is required")
    return clean, problems


def _hash(clean: dict[str, Any]) -> str:
    data = json.dumps(clean, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _out(row: Any) -> dict[str, Any]:
    return RegistrationOut(id=row.id, status=row.status, contact_id=row.contact_id).model_dump()


@router.post(
    "/registrations",
    status_code=202,
    response_model=RegistrationOut,
    responses={409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def register(
    body: RegistrationIn,
    request: Request,
    principal: Annotated[ApiPrincipal, Depends(require_scope("registrations:write"))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    services: Services = request.app.state.services
    clean, problems = _check(body, services.now().date())
    if problems:
        raise ApiError(422, "invalid_request", "the registration is not valid", problems)
    key = (idempotency_key or "").strip() or f"phone:{clean['phone']}"
    digest = _hash(clean)

    async def store(conn: AsyncConnection) -> tuple[Any, bool]:
        stmt = (
            insert(registrations)
            .values(
                portal_id=principal.portal_id,
                idempotency_key=key,
                input_hash=digest,
                consent_at=services.now(),
                **clean,
            )
            .on_conflict_do_nothing(index_elements=["portal_id", "idempotency_key"])
            .returning(registrations)
        )
        row = (await conn.execute(stmt)).first()
        if row is not None:
            await defer_registration(conn, row.id)
            return row, True
        old = (
            await conn.execute(
                select(registrations).where(
                    registrations.c.portal_id == principal.portal_id,
                    registrations.c.idempotency_key == key,
                )
            )
        ).one()
        return old, False

    row, created = await run_in_transaction(services.engine, store)
    if not created and row.input_hash != digest:
        raise ApiError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key (or phone) was used for a registration with other data",
        )
    return JSONResponse(_out(row), status_code=202 if created else 200)


@router.get(
    "/registrations/{registration_id}",
    response_model=RegistrationOut,
    responses={404: {"model": ErrorResponse}},
)
async def get_registration(
    registration_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
    request: Request,
    principal: Annotated[ApiPrincipal, Depends(require_scope("registrations:write"))],
) -> dict[str, Any]:
    services: Services = request.app.state.services
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(registrations).where(
                    registrations.c.id == registration_id,
                    registrations.c.portal_id == principal.portal_id,
                )
            )
        ).first()
    if row is None:
        raise ApiError(404, "not_found", "no such registration")
    return _out(row)
