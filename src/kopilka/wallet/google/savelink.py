"""The "Add to Google Wallet" link (``reference/integrations.md`` §2.4): a JWT signed with the
service account's key, ``typ: savetowallet``, naming an object already made on Google, so that
the link stays short (no object body in it) and the card shows Google's copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kopilka.wallet.google.client import ServiceAccount

SAVE_URL = "https://pay.google.com/gp/v/save/"


def save_claims(
    account: ServiceAccount,
    object_id: str,
    class_id: str,
    origins: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    return {
        "iss": account.email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now.timestamp()),
        "origins": list(origins),
        "payload": {"loyaltyObjects": [{"id": object_id, "classId": class_id}]},
    }


def save_link(
    account: ServiceAccount,
    object_id: str,
    class_id: str,
    origins: Sequence[str],
    now: datetime,
) -> str:
    return SAVE_URL + account.sign(save_claims(account, object_id, class_id, origins, now))
