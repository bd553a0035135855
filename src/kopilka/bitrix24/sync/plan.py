"""Step 2 for what the portal and Kopilka's records should show of a deal, pure: given the deal as
read, what Kopilka recorded of it before and the points discount the ledger settled on, the
outcome — the snapshot row, each contact's share while it is won, and the portal writes (the
discount on the product rows, the product's data copied into the deal) only where the portal
does not show them yet. Nothing is read or written here; :mod:`.writes` stores an outcome.
(The ledger's own plan is :func:`kopilka.ledger.deals.plan_deal`, pure as well.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from kopilka.bitrix24.mapping import (
    Row,
    applied_total,
    base_prices,
    parse_datetime,
    rows_for_write,
    spread_discount,
    to_int,
)
from kopilka.bitrix24.mapping import record as remember_discount
from kopilka.bitrix24.outbox import Write
from kopilka.bitrix24.products import Product
from kopilka.bitrix24.writeback import points_value
from kopilka.domain.deal import Deal
from kopilka.domain.deal_codec import encode
from kopilka.domain.effects import DealEffects
from kopilka.domain.eligibility import basket
from kopilka.domain.redemption import payable_cap
from kopilka.domain.split import ordered, split_total
from kopilka.domain.transfer import dated_fields, product_to_deal, source_row
from kopilka.program.model import Program

Applied = dict[str, list[int]]  # the discounts on the rows, as recorded (mapping.record)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What is recorded of one deal and written to the portal because of it."""

    deal_id: int
    snapshot: dict[str, Any]  # the b24_deals row (without portal_id)
    shares: tuple[dict[str, Any], ...]  # b24_deal_shares rows (without portal_id)
    writes: tuple[Write, ...]


def rows_write(
    deal_id: int, record: Mapping[str, Any], rows: list[Row], applied: Applied, want: int
) -> tuple[Write | None, Applied]:
    """The points payment and the applied discounts as a discount on the product rows, when it
    differs from what is there; and the discounts then recorded. A lost deal keeps its rows."""
    if not rows or str(record.get("STAGE_SEMANTIC_ID")) == "F":
        return None, applied
    if want == applied_total(rows, applied):
        return None, applied
    prices = base_prices(rows, applied)
    discount = spread_discount(rows, prices, want)
    write = Write(
        key=f"deal:{deal_id}:rows",
        method="crm.deal.productrows.set",
        params={"id": deal_id, "rows": rows_for_write(rows, prices, discount)},
        idempotent=True,
    )
    return write, remember_discount(rows, prices, discount)


def transferred(program: Program, record: Mapping[str, Any], deal: Deal) -> dict[str, Any]:
    """The product's name, dates, code and properties copied into the deal fields the program
    maps (R-15), from one row (``source_row``): while the deal is open every copy follows its
    product; once won, only the fields it still shows empty are filled (a deal first seen won
    gets its copies; what it shows is never changed)."""
    if deal.stage not in ("process", "won") or not program.transfer.product_to_deal:
        return {}
    row = source_row(program, deal.rows)
    if row is None:
        return {}
    wanted = product_to_deal(program, row)
    if deal.stage == "won":
        wanted = {code: v for code, v in wanted.items() if record.get(code) in (None, "", [])}
    return wanted


def deal_update(
    program: Program, record: Mapping[str, Any], deal: Deal, shown: Shown | None
) -> Write | None:
    """One ``crm.deal.update`` with every deal field Kopilka fills — the transferred product
    data and what the manager sees of the points (:func:`points_fields`) — that differs from
    what the deal shows; none when all are equal. The write's own event re-reads the deal,
    finds the values equal and writes nothing: the loop ends."""
    points = points_fields(program, shown) if shown else {}
    changed = {
        code: value
        for code, value in transferred(program, record, deal).items()
        if not _same(record.get(code), value)
    }
    for code, value in points.items():  # an empty field shows 0: no write for a new deal
        current = record.get(code)
        if not _same(current if current not in (None, "") else "0", value):
            changed[code] = value
    if not changed:
        return None
    return Write(
        key=f"deal:{deal.id}:fields",
        method="crm.deal.update",
        params={"id": deal.id, "fields": changed},
        idempotent=True,
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """What the deal shows the manager of the points, in kopecks of points: the payer's
    available balance, the most this deal may pay now (None once it is closed), what it pays
    (held while open, taken when won) and what it earned."""

    balance: int | None
    payable: int | None
    paid: int
    earned: int


def shown_on_deal(
    program: Program,
    deal: Deal,
    effects: DealEffects | None,
    available: int | None,
    *,
    paid_by_contacts: int = 0,
) -> Shown:
    """The points side of a settled deal (``available``: the payer's available points after
    it settled, None without a contact)."""
    redemption = effects.redemption if effects else None
    applied = redemption.amount if redemption and deal.stage != "lost" else 0
    paid = applied + (paid_by_contacts if deal.stage != "lost" else 0)
    earned = effects.total_accrued if effects and deal.stage == "won" else 0
    payable = None
    if deal.stage == "process" and available is not None and deal.contacts:
        payer = ordered(deal.contacts)[0]
        level = effects.levels.get(payer.id) if effects else None
        order_amount = basket(program, deal).order_amount
        share = level.payable_share if level else None
        if effects is not None and effects.payable_share is not None:  # a campaign's share
            share = effects.payable_share
        payable = payable_cap(program, deal, order_amount, share, available + applied)
    return Shown(available, payable, paid, earned)


def points_fields(program: Program, shown: Shown) -> dict[str, Any]:
    """The deal fields the program maps for :class:`Shown`, as the portal takes them."""
    mapped = program.fields.deal
    values: dict[str | None, int | None] = {
        mapped.balance: shown.balance,
        mapped.max_payable: shown.payable,
        mapped.points_paid: shown.paid,
        mapped.points_earned: shown.earned,
    }
    return {code: points_value(v) for code, v in values.items() if code and v is not None}


def _same(current: Any, wanted: Any) -> bool:
    """Whether the deal already shows ``wanted`` (a date field shows a date-time: compare the
    date part)."""
    if current is None or current == "":
        return wanted is None or wanted == ""
    left, right = str(current), str(wanted)
    if left == right:
        return True
    try:  # a double field shows "1300", "1300.0" or 1300.0 for "1300"
        return Decimal(left) == Decimal(right)
    except InvalidOperation:
        pass
    return len(right) == 10 and left[:10] == right  # "2026-07-01" vs "2026-07-01T03:00:00+03:00"


def share_rows(program: Program, deal_id: int, deal: Deal | None) -> tuple[dict[str, Any], ...]:
    """Each contact's share of the deal while it is won (the base of histories and totals)."""
    if deal is None or deal.stage != "won" or deal.closed_at is None or not deal.contacts:
        return ()
    amounts = split_total(program.split, deal.contacts, basket(program, deal).order_amount)
    dates = dated_fields(program, deal)  # what the totals rules group by (year_of)
    return tuple(
        {
            "deal_id": deal_id,
            "contact_id": contact_id,
            "category_id": deal.pipeline_id,
            "closed_at": deal.closed_at,
            "amount": amount,
            "dates": dates,
        }
        for contact_id, amount in amounts.items()
    )


def snapshot_row(
    deal_id: int,
    record: Mapping[str, Any] | None,
    contact_ids: list[int],
    amount: int,
    applied: Applied,
    previous: Any,
    won_sections: dict[str, int | None] | None = None,
    priced_by: str | None = None,
    engine_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What is recorded of the deal as seen now (a deleted one keeps what was last seen).
    ``engine_input`` is the deal as the engine saw it (``domain.deal_codec``): what a what-if
    replays; a deleted deal keeps the last one."""
    if record is None:
        values: dict[str, Any] = {
            "category_id": previous.category_id if previous else 0,
            "stage_id": previous.stage_id if previous else "",
            "semantic": "D",
            "amount": previous.amount if previous else 0,
            "contact_ids": contact_ids,
            "closed_at": previous.closed_at if previous else None,
            "modified_at": previous.modified_at if previous else None,
        }
        engine_input = previous.engine_input if previous else None
    else:
        values = {
            "category_id": to_int(record.get("CATEGORY_ID")) or 0,
            "stage_id": str(record.get("STAGE_ID") or ""),
            "semantic": str(record.get("STAGE_SEMANTIC_ID") or "P"),
            "amount": amount,
            "contact_ids": contact_ids,
            "closed_at": parse_datetime(record.get("CLOSEDATE")),
            "modified_at": parse_datetime(record.get("DATE_MODIFY")),
        }
    return values | {
        "deal_id": deal_id,
        "applied_discount": applied,
        "won_sections": won_sections,
        "priced_by": priced_by,
        "engine_input": engine_input,
    }


def with_catalog(
    deal: Deal, products: Mapping[int, Product], previous: Any
) -> tuple[Deal, dict[str, int | None] | None]:
    """The deal's rows with their products' sections and properties. A deal that was already
    won keeps the sections it was counted with (a product moved later does not change its
    points); the sections of a newly won deal are remembered."""
    frozen: Mapping[str, int | None] = (
        previous.won_sections
        if previous is not None and previous.semantic == "S" and previous.won_sections
        else {}
    )
    rows = []
    for row in deal.rows:
        product = products.get(row.product_id or 0)
        key = str(row.product_id or 0)
        section = frozen[key] if key in frozen else (product.section_id if product else None)
        values = product.values() if product else {}
        rows.append(replace(row, section_id=section, properties=values))
    deal = replace(deal, rows=tuple(rows))
    if deal.stage != "won":
        return deal, None
    return deal, {str(r.product_id or 0): r.section_id for r in deal.rows}


def close_order(records: Mapping[int, Mapping[str, Any] | None], ids: list[int]) -> list[int]:
    """``ids`` with the won deals first, in the order they were won (close date, then id), the
    others after in id order: a deal is judged by the histories of the deals won before it, so
    those must be settled first — a backfill in id order would price a deal without the earlier
    wins of its contacts and the next sync would re-price it."""

    def key(deal_id: int) -> tuple[int, float, int]:
        record = records.get(deal_id) or {}
        won = str(record.get("STAGE_SEMANTIC_ID") or "") == "S"
        closed = parse_datetime(record.get("CLOSEDATE")) if won else None
        return (0, closed.timestamp(), deal_id) if closed else (1, 0.0, deal_id)

    return sorted(ids, key=key)


def priced_by(previous: Any, deal: Deal, in_force: str | None) -> str | None:
    """The program version a deal is settled under, recorded while it is won: a deal that was
    already won keeps the version it was priced by (a program changed later does not re-price
    it, as it does not move its sections); a newly won deal takes the version in force; an
    open or lost deal none (it follows the version in force)."""
    if deal.stage != "won":
        return None
    if previous is not None and previous.semantic == "S" and previous.priced_by:
        return str(previous.priced_by)
    return in_force


def plan_outcome(
    program: Program,
    deal: Deal,
    record: Mapping[str, Any],
    rows: list[Row],
    *,
    applied: Applied,
    discount: int,
    previous: Any,
    won_sections: dict[str, int | None] | None,
    shown: Shown | None = None,
) -> Outcome:
    """The outcome of a deal that is in the portal, ``discount`` being what the ledger settled
    it pays with points (plus the offers applied), ``shown`` the points side shown on it."""
    rows_change, applied = rows_write(deal.id, record, rows, applied, discount)
    writes = tuple(w for w in (rows_change, deal_update(program, record, deal, shown)) if w)
    snapshot = snapshot_row(
        deal.id,
        record,
        [c.id for c in deal.contacts],
        deal.opportunity,
        applied,
        previous,
        won_sections,
        program.hash if deal.stage == "won" else None,
        encode(deal),
    )
    return Outcome(deal.id, snapshot, share_rows(program, deal.id, deal), writes)


def plan_deleted(deal_id: int, previous: Any) -> Outcome:
    """The outcome of a deal deleted in the portal: what was last seen, no shares, no writes."""
    contact_ids = list(previous.contact_ids) if previous else []
    applied: Applied = dict(previous.applied_discount) if previous else {}
    return Outcome(deal_id, snapshot_row(deal_id, None, contact_ids, 0, applied, previous), (), ())
