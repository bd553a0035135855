"""Issuing a card by hand (R-17: "once a phone is added the card can be issued again by hand"):
``POST /api/v1/contacts/{contact_id}/card`` and ``kopilka card issue --contact N`` share
:func:`issue_by_hand`. By hand, only the phone is required."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.errors import ApiError, ErrorResponse
from kopilka.api.keys import ApiPrincipal, require_scope
from kopilka.bitrix24.connections import get_connection, portal_program
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.errors import B24Error
from kopilka.cards import CardOutcome, issue_card
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.notify.contacts import read_contacts
from kopilka.notify.deferred import defer_notify
from kopilka.program.notify import Cards
from kopilka.services import Services

router = APIRouter(prefix="/api/v1", tags=["cards"])
MAX_ID = 2**63 - 1


class ContactNotFound(LookupError):
    pass


async def issue_by_hand(
    services: Services, portal_id: int, contact_id: int, *, actor: str
) -> CardOutcome:
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
        _book, program = await portal_program(conn, connection)
    rules = program.cards or Cards()
    extra = [f for f in rules.required if f.startswith("UF_")]
    contact = (await read_contacts(services.client_for(connection), [contact_id], extra)).get(
        contact_id
    )
    if contact is None:
        raise ContactNotFound(f"contact {contact_id} is not in the portal")

    async def issue(conn: AsyncConnection) -> CardOutcome:
        outcome = await issue_card(
            conn, portal_id, program, contact, issued_by=actor, check_required=False
        )
        await defer_sync(conn, portal_id)
        await defer_notify(conn, portal_id)
        return outcome

    return await run_in_transaction(services.engine, issue)


class CardOut(BaseModel):
    status: str
    number: str | None = None
    other_contact: str | None = None


_REFUSED = {
    "no_phone": "the contact has no phone",
    "bad_phone": "the contact's phone is not a valid number",
    "taken": "the phone already belongs to another customer's card",
}


@router.post(
    "/contacts/{contact_id}/card",
    response_model=CardOut,
    responses={
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
async def issue_card_endpoint(
    contact_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    request: Request,
    principal: Annotated[ApiPrincipal, Depends(require_scope("cards:write"))],
) -> JSONResponse:
    services: Services = request.app.state.services
    try:
        outcome = await issue_by_hand(
            services, principal.portal_id, contact_id, actor=f"api:{principal.name}"
        )
    except ContactNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except B24Error as exc:
        raise ApiError(503, "portal_unavailable", f"Bitrix24 did not answer: {exc.code}") from None
    except KopilkaError as exc:  # no portal connection or program
        raise ApiError(409, exc.code, exc.message) from None
    if outcome.status in _REFUSED:
        raise ApiError(409, f"card_{outcome.status}", _REFUSED[outcome.status])
    body: dict[str, Any] = CardOut(
        status=outcome.status, number=outcome.number, other_contact=outcome.other_contact
    ).model_dump()
    return JSONResponse(body, status_code=201 if outcome.status == "issued" else 200)
