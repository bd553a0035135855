"""Calculate: what an order may pay with points and what it will earn, asked of the program's
engine with the customer's balance and history — nothing is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.api.portal import CustomerRef, customer_history
from kopilka.api.schemas import (
    EarnLine,
    OrderLine,
    Quote,
)
from kopilka.domain.deal import Contact, CustomerHistory, Deal, ProductRow
from kopilka.domain.effects import DealEffects
from kopilka.domain.engine import evaluate_deal
from kopilka.ledger.queries import balance
from kopilka.ledger.types import Book
from kopilka.program.model import Program

MOST = 10**15  # "as many as allowed": the engine caps it by the share and the balance


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    name: str
    price: int
    quantity: int
    section_id: int | None

    @property
    def total(self) -> int:
        return self.price * self.quantity


def lines_of(body: Sequence[OrderLine]) -> list[Line]:
    return [Line(x.id, x.name, x.price, x.quantity, x.section_id) for x in body]


def evaluate(
    program: Program,
    customer_id: int,
    lines: Sequence[Line],
    *,
    pipeline_id: int,
    pay: int,
    available: int,
    history: CustomerHistory,
    now: datetime,
) -> DealEffects:
    """The engine's view of an order as a won deal of one contact (the customer)."""
    deal = Deal(
        id=0,
        pipeline_id=pipeline_id,
        stage="won",
        opportunity=sum(line.total for line in lines),
        contacts=(Contact(id=customer_id, is_primary=True),),
        rows=tuple(
            ProductRow(None, line.name, line.price, line.quantity, line.section_id)
            for line in lines
        ),
        points_to_pay=pay,
        closed_at=now,
    )
    return evaluate_deal(
        program, deal, {customer_id: replace(history, available_points=available)}, now
    )


async def quote(
    conn: AsyncConnection,
    book: Book,
    program: Program,
    customer: CustomerRef,
    lines: Sequence[Line],
    *,
    pay_points: int | None,
    pipeline_id: int,
    now: datetime,
    order_id: str | None = None,
) -> Quote:
    """What the order may pay with points and what it will earn (reads only)."""
    available = (await balance(conn, book, customer.id, now)).available
    history = await customer_history(conn, book, program, customer, now, exclude_order=order_id)
    asked = MOST if pay_points is None else pay_points
    effects = evaluate(
        program,
        customer.id,
        lines,
        pipeline_id=pipeline_id,
        pay=asked,
        available=available,
        history=history,
        now=now,
    )
    red = effects.redemption
    pay = red.amount if red else 0
    cap = red.cap if red else 0
    if pay_points == 0:
        # nothing asked: still tell the till the most it could pay
        most = evaluate(
            program,
            customer.id,
            lines,
            pipeline_id=pipeline_id,
            pay=MOST,
            available=available,
            history=history,
            now=now,
        ).redemption
        cap = most.cap if most else 0
    earn = [
        EarnLine(
            rule_id=a.rule_id,
            amount=a.amount,
            explanation_ru=a.explanation_ru,
            explanation_en=a.explanation_en,
        )
        for a in effects.accruals
    ]
    return Quote(
        customer_id=customer.id,
        order_total=sum(line.total for line in lines),
        eligible_total=effects.eligible_amount,
        available=available,
        pay_points=pay,
        max_payable=cap,
        capped_by=red.capped_by if red and pay_points is not None else "none",
        earn=sum(e.amount for e in earn),
        earn_lines=earn,
        explanation_ru=red.explanation_ru if red and pay_points is not None else "",
        explanation_en=red.explanation_en if red and pay_points is not None else "",
    )
