"""The loyalty class (one per program) and object (one per customer) as Google reads them
(``reference/integrations.md`` §2.2, §2.3). Pure: a card's face in, JSON bodies out.

Ids are ``{issuer}.{suffix}`` with a random suffix (several Kopilkas may share an issuer; a
customer's id never shows). The balance is sent as Google's ``string`` balance, the program's
own text of it («1 250»), so that points with kopecks read as the cabinet shows them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from kopilka.wallet.common import CardView as CardFace

CLASS = "loyaltyClass"
OBJECT = "loyaltyObject"
BARCODES = {"qr": "QR_CODE", "code128": "CODE_128"}
EXPIRING = {"ru": "Скоро сгорят", "en": "Expiring soon"}


def new_id(issuer_id: str, prefix: str) -> str:
    return f"{issuer_id}.{prefix}-{secrets.token_hex(8)}"


def _text(locale: str, value: str) -> dict[str, Any]:
    language = "ru-RU" if locale == "ru" else "en-US"
    return {"defaultValue": {"language": language, "value": value}}


def class_body(class_id: str, face: CardFace, logo_url: str) -> dict[str, Any]:
    """The program's class: the shop's name, logo and colour, the labels in its locale."""
    return {
        "id": class_id,
        "issuerName": face.shop,
        "programName": face.shop,
        "programLogo": {
            "sourceUri": {"uri": logo_url},
            "contentDescription": _text(face.locale, face.shop),
        },
        "hexBackgroundColor": face.background,
        "accountIdLabel": face.word("card"),
        "accountNameLabel": face.word("holder"),
        "reviewStatus": "UNDER_REVIEW",
    }


def class_hash(body: dict[str, Any]) -> str:
    """What the class looked like when last sent: sent again when the program's look moves."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def object_fields(face: CardFace) -> dict[str, Any]:
    """What changes with the customer: balance, level, expiring points, the card itself."""
    modules = [
        {"id": "level", "header": face.word("level"), "body": face.level} if face.level else None,
        (
            {"id": "expiring", "header": EXPIRING.get(face.locale, ""), "body": text}
            if (text := face.expiring_text)
            else None
        ),
    ]
    fields: dict[str, Any] = {
        "state": "ACTIVE" if face.card_number else "INACTIVE",
        "accountName": face.holder,
        "loyaltyPoints": {"label": face.points_label, "balance": {"string": face.balance_text}},
        "textModulesData": [m for m in modules if m is not None],
    }
    if face.card_number:
        fields["accountId"] = face.display_number or face.card_number
        fields["barcode"] = {
            "type": BARCODES.get(face.barcode, "QR_CODE"),
            "value": face.card_number,
            "alternateText": face.display_number or face.card_number,
        }
    return fields


def object_body(object_id: str, class_id: str, face: CardFace) -> dict[str, Any]:
    return {"id": object_id, "classId": class_id, **object_fields(face)}


def object_patch(face: CardFace, *, notify: bool) -> dict[str, Any]:
    """A PATCH of the object; ``notify`` asks Google to tell the holder (its quota: 3 a day)."""
    body = object_fields(face)
    if notify:
        body["notifyPreference"] = "NOTIFY_ON_UPDATE"
    return body
