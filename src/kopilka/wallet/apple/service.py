"""Apple Wallet's use cases: is it configured, the customer's pass built and signed, a link to it
for an SMS or an e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.config import Settings
from kopilka.wallet.apple import queries
from kopilka.wallet.apple.pkpass import Identity, Signer, build
from kopilka.wallet.common import card_view

#: where the PassKit web service and the pass links live
PREFIX = "/wallet/apple"


@dataclass(frozen=True)
class Apple:
    identity: Identity
    signer: Signer
    images: Path | None


class NotConfigured(Exception):
    """Apple Wallet's settings are not all there."""


def apple_of(settings: Settings) -> Apple | None:
    """The configured issuer, or None when Apple Wallet is off (no Pass Type ID)."""
    s = settings
    if s.wallet_apple_pass_type_id is None:
        return None
    files = (s.wallet_apple_cert_file, s.wallet_apple_key_file, s.wallet_apple_wwdr_file)
    if s.wallet_apple_team_id is None or None in files:
        raise NotConfigured(
            "KOPILKA_WALLET_APPLE_PASS_TYPE_ID is set: the team id, certificate, key and WWDR "
            "intermediate are needed too (docs/wallet.md)"
        )
    password = s.wallet_apple_key_password
    signer = _signer(
        *(Path(str(f)) for f in files),
        password.get_secret_value() if password is not None else None,
    )
    identity = Identity(
        s.wallet_apple_pass_type_id,
        s.wallet_apple_team_id,
        s.wallet_apple_web_service_url.rstrip("/") if s.wallet_apple_web_service_url else None,
    )
    return Apple(identity, signer, s.wallet_apple_images_dir)


@lru_cache(maxsize=4)
def _signer(cert: Path, key: Path, wwdr: Path, password: str | None) -> Signer:
    return Signer.load(cert, key, wwdr, password.encode() if password is not None else None)


async def pkpass_for(
    conn: AsyncConnection, apple: Apple, portal_id: int, customer_id: int, now: datetime
) -> tuple[bytes, queries.PassRow]:
    """The customer's signed pass as it stands now (the pass row made on first use)."""
    row = await queries.pass_of(conn, portal_id, customer_id)
    return await render(conn, apple, row, now), row


async def render(conn: AsyncConnection, apple: Apple, row: queries.PassRow, now: datetime) -> bytes:
    view = await card_view(conn, row.portal_id, row.customer_id, now)
    return build(view, apple.identity, apple.signer, row.serial, row.auth_token, apple.images)


async def pass_link(
    conn: AsyncConnection, settings: Settings, portal_id: int, customer_id: int, now: datetime
) -> str:
    """The path (under Kopilka's public address) of a link to the customer's pass, to send by
    SMS or e-mail: unguessable, valid ``wallet_apple_link_days``."""
    row = await queries.pass_of(conn, portal_id, customer_id)
    token = await queries.new_link(conn, row.id, now, settings.wallet_apple_link_days)
    return f"{PREFIX}/pass/{token}"
