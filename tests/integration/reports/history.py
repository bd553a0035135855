"""A hand-computed history for the reports (Europe/Moscow, UTC+3), in whole points.

Customers A, B, C, D (contacts 1–4) on ``aesthetic-medicine.yaml`` plus two manual bonuses.

    before the range  2025-12-15  A +1000 (lot expires 2026-02-15 00:00 MSK)
    January           2025-12-31 22:00 UTC = 1 January 01:00 MSK: B +200 (no expiry)
                      01-10 B +500 (expires 2026-06-01), 01-20 A spends 300
    February          02-15 00:00 MSK A's 700 left expire; 02-20 olga grants A 500 (review);
                      02-25 ivan grants B 1000 (apology)
    March             03-05 A holds 200, 03-06 captures 150 (50 back); 03-10 ivan's grant is
                      reversed; 03-15 B spends 100
    April             04-02 B's spend is refunded (reversed); 04-10 D +300 (expires 07-15),
                      A +400 (expires 06-20); 04-12 olga grants D 250 (apology)
    after the range   05-05 C +50 (no expiry); NOW = 2026-05-10 12:00 UTC

Deals (levels by lifetime purchases: start 0, silver 50 000 ₽, gold 150 000.01 ₽): A 60 000,
B 120 000 + 80 000, D 10 000, C none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.ledger import book as books
from kopilka.ledger.accrual import accrue
from kopilka.ledger.book import ensure_customer, ensure_portal
from kopilka.ledger.expiry import expire_account
from kopilka.ledger.grants import grant
from kopilka.ledger.reversal import reverse
from kopilka.ledger.spending import capture_hold, place_hold, redeem
from kopilka.ledger.types import Book
from kopilka.lifecycle.service import install_program
from kopilka.program.loader import parse_program
from kopilka.program.model import Program
from tests.factories import ref

EXAMPLE = Path(__file__).parents[3] / "examples" / "aesthetic-medicine.yaml"
MANUAL = """
manual_bonuses:
  review:
    title: Бонус за отзыв
    max_per_grant: 500
  apology:
    title: Бонус-извинение
    max_per_grant: 3000
"""
P = 100  # kopecks in a point
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
FIRST, LAST = date(2026, 1, 1), date(2026, 4, 30)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


@dataclass
class Seeded:
    portal_id: int
    member: str
    book: Book
    program: Program
    ids: dict[str, int]


def program_source() -> str:
    return EXAMPLE.read_text(encoding="utf-8") + MANUAL


async def seed_history(conn: AsyncConnection, member: str | None = None) -> Seeded:
    member = member or ref("portal")
    source = program_source()
    program = parse_program(source, "aesthetic-medicine+manual.yaml")
    portal_id = await ensure_portal(conn, member)
    book = await install_program(conn, portal_id, program, source, now=at("2025-01-01"))
    names = {"A": "Анна", "B": "Борис", "C": "Вера", "D": "Глеб"}
    ids = {
        k: await ensure_customer(conn, portal_id, f"contact:{i}", name=f"{n} {k}")
        for i, (k, n) in enumerate(names.items(), start=1)
    }
    A, B, C, D = (ids[k] for k in "ABCD")

    async def earn(who: int, points: int, when: datetime, expires: datetime | None) -> Any:
        return await accrue(
            conn,
            book,
            customer_id=who,
            amount=points * P,
            key=ref("acc"),
            reason="покупка",
            actor="sync",
            now=when,
            expires_at=expires,
        )

    async def spend(who: int, points: int, when: datetime) -> Any:
        return await redeem(
            conn,
            book,
            customer_id=who,
            amount=points * P,
            key=ref("red"),
            reason="оплата",
            actor="sync",
            now=when,
        )

    async def manual(who: int, reason: str, points: int, actor: str, when: datetime) -> Any:
        return await grant(
            conn,
            book,
            program,
            customer_id=who,
            reason=reason,
            amount=points * P,
            actor=actor,
            key=ref("grant"),
            now=when,
        )

    await earn(A, 1000, at("2025-12-15"), at("2026-02-14", 21))  # 15.02 00:00 MSK
    await earn(B, 200, at("2025-12-31", 22), None)  # 1 January, 01:00 in Moscow
    await earn(B, 500, at("2026-01-10"), at("2026-06-01", 0))
    await spend(A, 300, at("2026-01-20"))
    account_a = (await books.account(conn, book, "customer", A)).id
    assert len(await expire_account(conn, book, account_a, now=at("2026-02-15", 6))) == 1
    await manual(A, "review", 500, "admin:olga", at("2026-02-20"))
    apology = await manual(B, "apology", 1000, "admin:ivan", at("2026-02-25"))
    hold = await place_hold(
        conn,
        book,
        customer_id=A,
        amount=200 * P,
        key=ref("hold"),
        reason="заказ",
        actor="sync",
        now=at("2026-03-05"),
        expires_at=at("2026-03-08"),
    )
    await capture_hold(
        conn,
        book,
        hold_id=hold.id,
        key=ref("cap"),
        actor="sync",
        now=at("2026-03-06"),
        amount=150 * P,
    )
    await reverse(
        conn,
        book,
        transaction_id=apology.id,
        key=ref("rev"),
        reason="ошибка",
        actor="admin:olga",
        now=at("2026-03-10"),
    )
    refunded = await spend(B, 100, at("2026-03-15"))
    await reverse(
        conn,
        book,
        transaction_id=refunded.id,
        key=ref("rev"),
        reason="возврат",
        actor="sync",
        now=at("2026-04-02"),
    )
    await earn(D, 300, at("2026-04-10"), at("2026-07-15"))
    await earn(A, 400, at("2026-04-10"), at("2026-06-20"))
    await manual(D, "apology", 250, "admin:olga", at("2026-04-12"))
    await earn(C, 50, at("2026-05-05"), None)
    for deal, contact, amount in ((1, 1, 60_000), (2, 2, 120_000), (3, 2, 80_000), (4, 4, 10_000)):
        params = {"p": portal_id, "d": deal, "c": contact, "a": amount * 100, "t": at("2026-03-01")}
        await conn.execute(
            text(
                "INSERT INTO b24_deals (portal_id, deal_id, category_id, stage_id, semantic,"
                " amount, contact_ids, closed_at, applied_discount, synced_at) VALUES "
                "(:p, :d, 0, 'WON', 'S', :a, ARRAY[:c]::bigint[], :t, '{}', now())"
            ),
            params,
        )
        await conn.execute(
            text(
                "INSERT INTO b24_deal_shares (portal_id, deal_id, contact_id, category_id,"
                " closed_at, amount) VALUES (:p, :d, :c, 0, :t, :a)"
            ),
            params,
        )
    return Seeded(portal_id, member, book, program, ids)
