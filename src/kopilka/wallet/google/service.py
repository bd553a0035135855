"""Google cards made and kept up to date. Every call to Google happens outside a transaction;
what Google answered is written after, each card in a transaction of its own.

* :func:`ensure_on_google` (the cabinet's link): the program's class and the customer's object
  exist on Google before the save link names them.
* :func:`update_due` (the job): each card whose first unsent change has settled is PATCHed once
  with the card as it stands, asking Google to tell the holder only within its daily quota.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.process.services import Services
from kopilka.wallet.common import card_view
from kopilka.wallet.google import objects, queries
from kopilka.wallet.google.client import GoogleWalletError, ServiceAccount, WalletClient
from kopilka.wallet.google.queries import DAY, Card

log = logging.getLogger("kopilka.wallet.google")
MAX_RETRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Wallet:
    issuer_id: str
    client: WalletClient
    logo_url: str
    origins: tuple[str, ...]


_wallets: dict[int, tuple[Services, Wallet]] = {}


def missing(settings: Settings) -> list[str]:
    """The settings Google Wallet still needs (empty: ready)."""
    need = {
        "google_wallet_issuer_id": settings.google_wallet_issuer_id,
        "google_wallet_key_file": settings.google_wallet_key_file,
        "google_wallet_logo_url": settings.google_wallet_logo_url,
    }
    return [name for name, value in need.items() if not value]


def wallet_of(services: Services) -> Wallet | None:
    """The process's Google Wallet; None when it is off or not fully configured."""
    s = services.settings
    if not s.google_wallet_enabled:
        return None
    cached = _wallets.get(id(services))
    if cached is not None and cached[0] is services:
        return cached[1]
    if lacking := missing(s):
        log.error("Google Wallet is on but these settings are missing: %s", ", ".join(lacking))
        return None
    assert s.google_wallet_key_file is not None
    assert s.google_wallet_issuer_id is not None
    if services.http is None:
        services.http = httpx.AsyncClient(timeout=s.b24_timeout)
    try:
        account = ServiceAccount.from_file(s.google_wallet_key_file)
    except (OSError, ValueError, KeyError) as exc:  # the file's content is never logged
        log.error("Google Wallet's key file cannot be read (%s)", type(exc).__name__)
        return None
    client = WalletClient(
        account,
        services.http,
        api_url=s.google_wallet_api_url,
        token_uri=s.google_wallet_token_uri,
        timeout=s.google_wallet_timeout,
    )
    origins = tuple(o.strip() for o in s.google_wallet_origins.split(",") if o.strip())
    wallet = Wallet(
        s.google_wallet_issuer_id,
        client,
        s.google_wallet_logo_url or "",
        origins or (s.public_url.rstrip("/"),),
    )
    _wallets[id(services)] = (services, wallet)
    return wallet


def offered(services: Services) -> bool:
    """Whether the cabinet shows «Добавить в Google Wallet» (its link: ``endpoints.LINK``)."""
    return wallet_of(services) is not None


async def _send_class(services: Services, wallet: Wallet, card: Card) -> None:
    """The class as the program now wants it, sent when Google's copy differs."""
    async with services.engine.connect() as conn:
        face = await card_view(conn, card.portal_id, card.customer_id, services.now())
    body = objects.class_body(card.class_id, face, wallet.logo_url)
    digest = objects.class_hash(body)
    if digest == card.class_hash:
        return
    if card.class_hash is None:
        if not await wallet.client.insert(objects.CLASS, body):
            await wallet.client.patch(objects.CLASS, card.class_id, body)
    else:
        await wallet.client.patch(objects.CLASS, card.class_id, body)

    async def unit(conn: AsyncConnection) -> None:
        await queries.class_sent(conn, card.portal_id, digest, services.now())

    await run_in_transaction(services.engine, unit)


async def ensure_on_google(
    services: Services, wallet: Wallet, portal_id: int, customer_id: int
) -> Card:
    """The customer's class and object made on Google (``GoogleWalletError`` if Google fails)."""

    async def unit(conn: AsyncConnection) -> Card:
        return await queries.ensure_card(conn, wallet.issuer_id, portal_id, customer_id)

    card = await run_in_transaction(services.engine, unit)
    await _send_class(services, wallet, card)
    if card.synced_version == 0:
        await _send_object(services, wallet, card, notify=False)
    return card


async def _send_object(services: Services, wallet: Wallet, card: Card, *, notify: bool) -> None:
    """The object as it stands now: PATCHed, or made when Google has none."""
    now = services.now()
    async with services.engine.connect() as conn:
        face = await card_view(conn, card.portal_id, card.customer_id, now)
    told = tuple(t for t in card.notified_at if t > now - DAY)
    if card.synced_version == 0:
        body = objects.object_body(card.object_id, card.class_id, face)
        if not await wallet.client.insert(objects.OBJECT, body):
            await wallet.client.patch(objects.OBJECT, card.object_id, objects.object_fields(face))
    else:
        limit = services.settings.google_wallet_notify_per_day
        notify = notify and len(told) < limit
        try:
            await wallet.client.patch(
                objects.OBJECT, card.object_id, objects.object_patch(face, notify=notify)
            )
        except GoogleWalletError as exc:
            if exc.status != 404:
                raise
            # gone from Google (deleted by hand): made again
            body = objects.object_body(card.object_id, card.class_id, face)
            await wallet.client.insert(objects.OBJECT, body)
            notify = False
        if notify:
            told = (*told, now)

    async def unit(conn: AsyncConnection) -> None:
        await queries.card_synced(conn, card, now, told[-3:])

    await run_in_transaction(services.engine, unit)


@dataclass
class Report:
    updated: int = 0
    failed: int = 0


async def update_due(services: Services, portal_id: int) -> Report:
    """Send every settled card of the portal (see the module)."""
    report = Report()
    wallet = wallet_of(services)
    if wallet is None:
        return report
    now = services.now()
    settled = now - timedelta(seconds=services.settings.google_wallet_settle_seconds)
    async with services.engine.connect() as conn:
        cards = await queries.due_cards(conn, portal_id, settled, now)
    if cards:
        try:
            await _send_class(services, wallet, cards[0])
        except GoogleWalletError as exc:  # no object is sent before its class
            for card in cards:
                await _failed(services, card, str(exc))
            report.failed = len(cards)
            return report
    for card in cards:
        try:
            await _send_object(services, wallet, card, notify=True)
            report.updated += 1
        except GoogleWalletError as exc:
            report.failed += 1
            await _failed(services, card, str(exc))
    return report


async def _failed(services: Services, card: Card, error: str) -> None:
    base = services.settings.google_wallet_retry_seconds
    wait = min(timedelta(seconds=base * 2 ** min(card.attempts, 16)), MAX_RETRY)
    log.warning("Google card of customer %s not updated: %s", card.customer_id, error)

    async def unit(conn: AsyncConnection) -> None:
        await queries.card_failed(conn, card, error, services.now() + wait)

    await run_in_transaction(services.engine, unit)


async def portals_due(services: Services) -> list[int]:
    now = services.now()
    settled = now - timedelta(seconds=services.settings.google_wallet_settle_seconds)
    async with services.engine.connect() as conn:
        return await queries.due_portals(conn, settled, now)
