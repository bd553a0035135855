"""The contact tab's actions: a manual bonus granted by the Bitrix24 user looking at the tab,
within the program's limits and their own (R-11), and the card issued by hand (R-17).

A refusal is said in the manager's words and writes nothing; the form's hidden random key makes
the grant idempotent, so a double click or a reload posts once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from kopilka.b24app.permissions import granter_of
from kopilka.b24app.schemas import Frame
from kopilka.b24app.texts import translator
from kopilka.bitrix24.bonuses import UnknownContact, grant_on_portal
from kopilka.bitrix24.connections import get_connection
from kopilka.bitrix24.errors import B24Error
from kopilka.cards.service import ContactNotFound, issue_by_hand
from kopilka.domain.errors import IdempotencyConflict, KopilkaError
from kopilka.domain.explain import plural_ru
from kopilka.domain.manual import ManualGrantRefused
from kopilka.domain.money import format_points, to_minor
from kopilka.process.services import Services

log = logging.getLogger("kopilka.b24app.contact")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True, slots=True)
class Notice:
    ok: bool
    text: str


def points_word(lang: str, minor: int) -> str:
    """«1 500 баллов» / «1,500 points» — the manager's word for points."""
    if lang == "en":
        return f"{format_points(minor)} {'point' if minor == 100 else 'points'}"
    return f"{format_points(minor)} {plural_ru(minor, 'балл', 'балла', 'баллов')}"


def typed_number(raw: str) -> str:
    """A number as a manager types it: «1 000», «1\u00a0000», «12,5» → ``1000``, ``12.5``."""
    return "".join(raw.split()).replace(",", ".")


def period_word(t: Callable[..., str], kind: str | None) -> str:
    return t(f"per_{kind}") if kind else ""


def refusal(t: Callable[..., str], lang: str, exc: ManualGrantRefused) -> str:
    """A refused grant in the manager's words: which limit, and what is left."""
    values = {
        "title": exc.title,
        "limit": points_word(lang, exc.limit or 0),
        "left": points_word(lang, exc.left or 0),
        "period": period_word(t, exc.period.kind if exc.period else None),
    }
    return t(f"refused_{exc.rule}", **values) if exc.rule else exc.message


async def grant_from_tab(services: Services, frame: Frame, form: dict[str, str]) -> Notice:
    user = frame.user
    t = translator(user.lang)
    assert frame.entity_id is not None
    key = form.get("key", "")
    if not _KEY.match(key):
        return Notice(False, t("reopen"))
    raw = typed_number(form.get("amount", ""))
    try:
        amount = to_minor(raw) if raw else None
    except KopilkaError:
        return Notice(False, t("refused_amount"))
    comment = form.get("comment", "").strip()[:500] or None
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, user.portal_id)
        granter = await granter_of(conn, user.portal_id, user.user_id, user.is_admin)
    try:
        posted, _shown = await grant_on_portal(
            services,
            connection,
            contact_id=frame.entity_id,
            reason=form.get("reason", "")[:60],
            amount=amount,
            actor=user.actor,
            key=f"b24app:grant:{user.user_id}:{key}",
            now=services.now(),
            comment=comment,
            granter=granter,
        )
    except ManualGrantRefused as exc:
        log.info("grant refused for %s on contact %s: %s", user.actor, frame.entity_id, exc)
        return Notice(False, refusal(t, user.lang, exc))
    except IdempotencyConflict:
        return Notice(False, t("reopen"))
    except UnknownContact:
        return Notice(False, t("no_contact"))
    except B24Error:
        return Notice(False, t("portal_down"))
    earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
    said = t("granted", points=points_word(user.lang, earned), reason=posted.reason)
    return Notice(True, said + (" " + t("replayed") if posted.replayed else ""))


async def card_from_tab(services: Services, frame: Frame) -> Notice:
    user = frame.user
    t = translator(user.lang)
    assert frame.entity_id is not None
    try:
        outcome = await issue_by_hand(
            services, user.portal_id, frame.entity_id, actor=f"b24:user:{user.user_id}"
        )
    except ContactNotFound:
        return Notice(False, t("no_contact"))
    except B24Error:
        return Notice(False, t("portal_down"))
    ok = outcome.status in ("issued", "exists")
    return Notice(ok, t(f"card_{outcome.status}", number=outcome.number or ""))
