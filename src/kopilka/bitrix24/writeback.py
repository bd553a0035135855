"""What Kopilka shows inside the portal: the contact's fields and the deal's timeline.

Both are queued in the outbox inside the ledger transaction. Contact fields are recomputed from
the ledger and the deal snapshots every time (never incremented), so a repeated or late write
can only ever set the right value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.standing import histories, yearly_totals
from kopilka.db.tables import b24_contact_state, b24_deal_shares
from kopilka.domain.deal import Contact
from kopilka.domain.effects import DealEffects, LevelStatus
from kopilka.domain.levels import metric_of, status_for
from kopilka.domain.offers import discount_percent
from kopilka.domain.texts import points, reason, say
from kopilka.ledger.book import ensure_customers
from kopilka.ledger.queries import balances
from kopilka.ledger.types import Balance, Book, HoldView, Posted
from kopilka.program.model import Program
from kopilka.program.rules import LevelTier

KINDS = ("accrual", "reversal", "hold", "capture", "release")  # titled kind.<kind> (texts)


def points_value(minor: int) -> str:
    """Points as a user field takes them: "1000" or "10.50"."""
    whole, frac = divmod(minor, 100)
    return f"{whole}" if not frac else f"{whole}.{frac:02d}"


def _percent(effects: DealEffects | None, contact_id: int) -> str | None:
    if effects is None:
        return None
    level = effects.levels.get(contact_id)
    if level is not None:
        return _plain(level.percent)
    for accrual in effects.accruals:
        if accrual.contact_id == contact_id and accrual.rule_inputs.get("percent"):
            return str(accrual.rule_inputs["percent"])
    return None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def money_value(minor: int) -> str:
    """Roubles as a double user field takes them."""
    return points_value(minor)


async def _lifetime(
    conn: AsyncConnection, portal_id: int, contact_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """contact id -> (won deals, purchases in kopecks), every pipeline, all time."""
    rows = await conn.execute(
        select(
            b24_deal_shares.c.contact_id,
            func.count(),
            func.coalesce(func.sum(b24_deal_shares.c.amount), 0),
        )
        .where(
            b24_deal_shares.c.portal_id == portal_id,
            b24_deal_shares.c.contact_id.in_(list(contact_ids)),
        )
        .group_by(b24_deal_shares.c.contact_id)
    )
    found = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    return {c: found.get(c, (0, 0)) for c in contact_ids}


async def refresh_contacts(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    portal_id: int,
    contact_ids: Sequence[int],
    now: datetime,
    *,
    effects: Mapping[int, DealEffects] | None = None,
) -> None:
    """Queue the contacts' Kopilka fields, recomputed from the ledger and the recorded deals:
    balance, won deals, purchases, level and its percent, yearly totals. A level that changed
    since the last write is explained on the contact's timeline, once. A few statements for
    any number of contacts (one more per contact when the program has levels).

    ``effects`` (contact id -> the effects of the deal just settled for it) supplies the percent
    when the program has no levels. Other fields of the contact are never sent, so they stay as
    the manager left them.
    """
    ids = sorted({int(c) for c in contact_ids})
    if not ids:
        return
    mapped = program.fields.contact
    lifetime = (
        await _lifetime(conn, portal_id, ids)
        if mapped.won_deals or mapped.purchases_total
        else dict.fromkeys(ids, (0, 0))
    )
    levels = program.levels
    shown = [d for d in program.discounts if d.field]
    history = await histories(conn, portal_id, program, ids, now=now) if levels or shown else {}
    totals = await yearly_totals(conn, portal_id, program, now, ids)
    points: dict[int, Balance] = {}
    if mapped.balance:
        customers = await ensure_customers(conn, portal_id, {f"contact:{c}": "" for c in ids})
        found = await balances(conn, book, list(customers.values()), now)
        points = {c: found[customers[f"contact:{c}"]] for c in ids}
    writes: list[outbox.Write] = []
    for contact_id in ids:
        fields: dict[str, Any] = {}
        won, purchases = lifetime[contact_id]
        if mapped.balance:
            fields[mapped.balance] = points_value(points[contact_id].available)
        if mapped.won_deals:
            fields[mapped.won_deals] = str(won)
        if mapped.purchases_total:
            fields[mapped.purchases_total] = money_value(purchases)
        status = (
            status_for(levels, metric_of(program, levels, history[contact_id])) if levels else None
        )
        percent = (
            _plain(status.percent)
            if status
            else _percent((effects or {}).get(contact_id), contact_id)
        )
        if mapped.percent and percent is not None:
            fields[mapped.percent] = percent
        if mapped.level and status is not None:
            fields[mapped.level] = status.title or ""
        if status is not None and levels is not None:
            await _level_change(conn, portal_id, contact_id, status, levels.tiers, program.locale)
        for code, amount in totals.get(contact_id, {}).items():
            fields[code] = money_value(amount)
        for discount in shown:  # the accumulative discount shown on the contact
            assert discount.field is not None
            got = discount_percent(program, Contact(contact_id), history[contact_id], discount, now)
            fields[discount.field] = _plain(got) if got is not None else "0"
        if fields:
            writes.append(
                outbox.Write(
                    f"contact:{contact_id}:fields",
                    "crm.contact.update",
                    {"id": contact_id, "fields": fields},
                    idempotent=True,
                )
            )
    await outbox.queue_writes(conn, portal_id, writes)


async def _level_change(
    conn: AsyncConnection,
    portal_id: int,
    contact_id: int,
    status: LevelStatus,
    tiers: Sequence[LevelTier],
    locale: str,
) -> None:
    """Record the contact's level; when it changed, explain it on the contact's timeline."""
    previous = (
        await conn.execute(
            select(b24_contact_state.c.level_id).where(
                b24_contact_state.c.portal_id == portal_id,
                b24_contact_state.c.contact_id == contact_id,
            )
        )
    ).first()
    if previous is not None and previous.level_id == status.level_id:
        return
    stmt = insert(b24_contact_state).values(
        portal_id=portal_id, contact_id=contact_id, level_id=status.level_id
    )
    change = await conn.scalar(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "contact_id"],
            set_={"level_id": stmt.excluded.level_id, "updated_at": func.now()},
        ).returning(func.txid_current())
    )
    if previous is None and status.level_id is None:
        return  # nothing to explain: no level before, none now
    order = [t.id for t in tiers]
    rank = {level: i for i, level in enumerate(order)}
    up = (
        rank.get(status.level_id or "", -1) > rank.get(previous.level_id or "", -1)
        if previous
        else True
    )
    text = level_text(status, up=up, locale=locale)
    await outbox.queue_writes(
        conn,
        portal_id,
        [
            timeline_write(
                "contact",
                contact_id,
                f"comment:level:{contact_id}:{change}",
                text + say(locale, "mark.change", n=change),
            )
        ],
    )


def level_text(status: LevelStatus, *, up: bool, locale: str = "ru") -> str:
    """«Копилка: уровень повышен до «Золото» — 7 %»."""
    brand = say(locale, "brand")
    if status.level_id is None:
        return f"{brand}: {say(locale, 'level.removed')}"
    key = "level.up" if up else "level.down"
    return f"{brand}: {say(locale, key, title=status.title, percent=_plain(status.percent))}"


def comment_text(tx: Posted, locale: str = "ru") -> str:
    """«Копилка: +992 бонуса: 8 % (опт) от 12 400 ₽» — the posting's own explanation."""
    # unique: lets an unanswered write be checked on the portal
    mark = say(locale, "mark.entry", n=tx.id)
    brand = say(locale, "brand")
    why = reason(locale, tx.reason)
    if tx.kind == "accrual":
        return f"{brand}: {why}{mark}"
    amount = sum(leg.amount for leg in tx.legs if leg.amount > 0)  # legs split by lot
    title = say(locale, f"kind.{tx.kind}") if tx.kind in KINDS else tx.kind
    return f"{brand}: {title} {points(locale, amount)}" + (f" — {why}" if why else "") + mark


async def timeline_comment(
    conn: AsyncConnection, portal_id: int, deal_id: int, tx: Posted, locale: str = "ru"
) -> None:
    if tx.replayed:
        return
    await outbox.queue_writes(conn, portal_id, [comment_write(deal_id, tx, locale)])


def timeline_write(entity: str, entity_id: int, key: str, text: str) -> outbox.Write:
    """A comment on a deal's or a contact's timeline, sent at most once under ``key`` (the
    text carries its own number, so an unanswered send can be checked on the portal)."""
    return outbox.Write(
        key,
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_ID": entity_id, "ENTITY_TYPE": entity, "COMMENT": text}},
        idempotent=False,
    )


def comment_write(deal_id: int, tx: Posted, locale: str = "ru") -> outbox.Write:
    """The deal's timeline comment explaining a posting."""
    return timeline_write("deal", deal_id, f"comment:tx:{tx.id}", comment_text(tx, locale))


async def hold_comment(
    conn: AsyncConnection, portal_id: int, deal_id: int, hold: HoldView, locale: str = "ru"
) -> None:
    if hold.replayed:
        return
    text = f"{say(locale, 'brand')}: {say(locale, 'kind.hold')} {points(locale, hold.amount)}"
    mark = say(locale, "mark.hold", n=hold.id)
    why = reason(locale, hold.reason)
    text = (f"{text} — {why}" if why else text) + mark
    await outbox.queue_writes(
        conn, portal_id, [timeline_write("deal", deal_id, f"comment:hold:{hold.id}", text)]
    )
