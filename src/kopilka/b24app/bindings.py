"""Where Kopilka appears in the portal: the placements it binds (reference §12.1).

Binding is idempotent: what is already bound to the same handler is left alone (Bitrix24 keeps
duplicates otherwise). Placements exist only in an application's context: a webhook portal gets
none (``WRONG_AUTH_TYPE``), and Kopilka does not ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client


@dataclass(frozen=True, slots=True)
class Placement:
    code: str
    path: str
    ru: str
    en: str


PLACEMENTS = (
    Placement("CRM_CONTACT_DETAIL_TAB", "/b24/app/contact", "Бонусы", "Bonuses"),
    Placement("CRM_DEAL_DETAIL_TAB", "/b24/app/deal", "Бонусы", "Bonuses"),
)


def _bind(p: Placement, handler: str) -> dict[str, Any]:
    return {
        "PLACEMENT": p.code,
        "HANDLER": handler,
        "TITLE": p.ru,
        "DESCRIPTION": "Kopilka",
        "LANG_ALL": {"ru": {"TITLE": p.ru}, "en": {"TITLE": p.en}},
    }


async def bind_placements(client: Bitrix24Client, public_url: str) -> list[str]:
    """Bind every placement not yet bound to its handler; the codes bound now."""
    base = public_url.rstrip("/")
    bound = await client.call("placement.get")
    have = {
        (
            str(b.get("placement") or b.get("PLACEMENT") or "").upper(),
            str(b.get("handler") or b.get("HANDLER") or ""),
        )
        for b in bound or []
        if isinstance(b, Mapping)
    }
    commands = {
        p.code: ("placement.bind", _bind(p, base + p.path))
        for p in PLACEMENTS
        if (p.code, base + p.path) not in have
    }
    if commands:
        await client.batch(commands, write=True)
    return sorted(commands)
