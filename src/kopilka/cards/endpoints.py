"""``POST /api/v1/contacts/{contact_id}/card``: a card issued by hand (R-17), as ``kopilka card
issue --contact N`` does (:func:`kopilka.cards.service.issue_by_hand`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kopilka.api.errors import ApiError, ErrorResponse
from kopilka.api.keys import ApiPrincipal, require_scope
from kopilka.bitrix24.errors import B24Error
from kopilka.cards.service import ContactNotFound, issue_by_hand
from kopilka.db.tables import BIGINT_MAX
from kopilka.domain.errors import KopilkaError
from kopilka.process.services import Services

router = APIRouter(prefix="/api/v1", tags=["cards"])


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
    contact_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
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
