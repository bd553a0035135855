"""``GET /cabinet/wallet/google``: the signed-in customer's card made on Google, then a redirect
to its "Add to Google Wallet" link. 404 while Google Wallet is off (or lacks settings), and for
a customer without an active card; 503 when Google does not answer."""

from __future__ import annotations

import html
import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kopilka.api.portal import customer_by_id
from kopilka.cabinet.i18n import pick_lang
from kopilka.cabinet.pages import signed_in
from kopilka.cabinet.web import services_of
from kopilka.wallet.google.client import GoogleWalletError
from kopilka.wallet.google.savelink import save_link
from kopilka.wallet.google.service import ensure_on_google, wallet_of

log = logging.getLogger("kopilka.wallet.google")
router = APIRouter(prefix="/cabinet/wallet", include_in_schema=False)
LINK = "/cabinet/wallet/google"

TEXTS = {
    "off": {
        "ru": "Карта в Google Wallet недоступна.",
        "en": "The card is not available in Google Wallet.",
    },
    "no_card": {
        "ru": "У вас пока нет бонусной карты.",
        "en": "You have no bonus card yet.",
    },
    "later": {
        "ru": "Google Wallet сейчас не отвечает. Попробуйте позже.",
        "en": "Google Wallet does not answer right now. Please try later.",
    },
}


def _page(request: Request, key: str, status: int) -> HTMLResponse:
    text = html.escape(TEXTS[key][pick_lang(request)])
    body = f'<!doctype html><meta charset="utf-8"><p><a href="/cabinet/card">←</a></p><p>{text}</p>'
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/google")
async def add_to_google_wallet(request: Request) -> Response:
    services = services_of(request)
    wallet = wallet_of(services)
    if wallet is None:
        return _page(request, "off", 404)
    now = services.now()
    async with services.engine.connect() as conn:
        who = await signed_in(request, conn, now)
        if isinstance(who, Response):
            return who
        customer = await customer_by_id(conn, *who)
    if customer.card_status != "active":
        return _page(request, "no_card", 404)
    try:
        card = await ensure_on_google(services, wallet, *who)
    except GoogleWalletError as exc:
        log.warning("Google card of customer %s not made: %s", who[1], exc)
        return _page(request, "later", 503)
    link = save_link(wallet.client.account, card.object_id, card.class_id, wallet.origins, now)
    return RedirectResponse(link, status_code=303, headers={"Cache-Control": "no-store"})
