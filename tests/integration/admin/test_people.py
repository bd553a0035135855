"""People and roles in the admin (issue 18): the audit log cannot be rewritten, a person is
locked out after wrong passwords, and a grant above the threshold is approved by someone else,
exactly once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import users
from kopilka.admin.grants import OwnRequest, RequestDecided, decide, grant_or_request
from kopilka.audit import record
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InvalidCommand
from kopilka.domain.manual import ManualGrantRefused
from tests.integration.admin.people import NOW, Shop, person, seed_shop, session_of

THRESHOLD = 1000_00  # kopecks: above 1 000 points a grant waits for approval


async def test_the_audit_log_refuses_update_delete_and_truncate(db: AsyncConnection) -> None:
    shop = await seed_shop(db)
    row = await record(
        db,
        "admin:olga",
        "grant.posted",
        "customer:1",
        {"amount": 5},
        "отзыв",
        portal_id=shop.portal_id,
    )
    for sql in (
        "UPDATE audit_log SET reason = 'nothing happened' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
        "TRUNCATE audit_log",
    ):
        sp = await db.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text(sql), {"id": row})
        await sp.rollback()
    kept = await db.scalar(text("SELECT reason FROM audit_log WHERE id = :id"), {"id": row})
    assert kept == "отзыв"


async def _request(conn: AsyncConnection, shop: Shop, maker: int, amount: int) -> int:
    me = await session_of(conn, maker, shop)
    outcome = await grant_or_request(
        conn,
        me,
        customer_id=shop.customer_id,
        reason="apology",
        amount=amount,
        comment="опоздали с трансфером",
        key="k1",
        threshold=THRESHOLD,
        now=NOW,
    )
    assert outcome.posted is None
    assert outcome.request_id is not None
    return outcome.request_id


async def _ledger(conn: AsyncConnection, shop: Shop) -> list[int]:
    rows = await conn.execute(
        text(
            "SELECT e.amount FROM ledger_entries e JOIN accounts a ON a.id = e.account_id "
            "WHERE a.portal_id = :p AND a.kind = 'customer' ORDER BY e.id"
        ),
        {"p": shop.portal_id},
    )
    return [int(r[0]) for r in rows]


async def test_a_grant_above_the_threshold_waits_and_its_maker_cannot_approve_it(
    db: AsyncConnection,
) -> None:
    shop = await seed_shop(db)
    olga = await person(db, shop, "olga", "owner")
    request_id = await _request(db, shop, olga, 2000_00)
    assert await _ledger(db, shop) == []  # nothing posted: it waits
    me = await session_of(db, olga, shop)
    with pytest.raises(OwnRequest):
        await decide(db, me, request_id, approve=True, note="", now=NOW)
    # Nor behind the service's back: the database refuses a decision by the maker.
    sp = await db.begin_nested()
    with pytest.raises(DBAPIError, match="check"):
        await db.execute(
            text(
                "UPDATE admin_grant_requests SET status = 'rejected', decided_by = requested_by,"
                " decided_at = now() WHERE id = :id"
            ),
            {"id": request_id},
        )
    await sp.rollback()
    assert await _ledger(db, shop) == []
    ivan = await person(db, shop, "ivan", "owner")
    posted = await decide(
        db, await session_of(db, ivan, shop), request_id, approve=True, note="ок", now=NOW
    )
    assert posted is not None
    assert await _ledger(db, shop) == [2000_00]
    actions = (
        await db.execute(
            text(
                "SELECT actor, action FROM audit_log WHERE portal_id = :p AND action LIKE 'grant.%'"
                " ORDER BY id"
            ),
            {"p": shop.portal_id},
        )
    ).all()
    assert [tuple(r) for r in actions] == [
        ("admin:olga", "grant.requested"),
        ("admin:ivan", "grant.approved"),
    ]


async def test_a_request_over_the_makers_quota_is_refused_at_once(db: AsyncConnection) -> None:
    shop = await seed_shop(db)
    anna = await person(db, shop, "anna", "manager", limit=1500_00)
    me = await session_of(db, anna, shop)
    with pytest.raises(ManualGrantRefused) as refused:
        await grant_or_request(
            db,
            me,
            customer_id=shop.customer_id,
            reason="apology",
            amount=2000_00,
            comment="x",
            key="k",
            threshold=THRESHOLD,
            now=NOW,
        )
    assert refused.value.rule == "quota"
    waiting = await db.scalar(text("SELECT count(*) FROM admin_grant_requests"))
    assert waiting == 0
    assert await _ledger(db, shop) == []


async def test_an_approval_posts_exactly_once(committed_engine: AsyncEngine) -> None:
    async def setup(conn: AsyncConnection) -> tuple[Shop, int, int, int, int]:
        shop = await seed_shop(conn)
        maker = await person(conn, shop, "anna", "manager")
        first = await person(conn, shop, "olga", "owner")
        second = await person(conn, shop, "ivan", "owner")
        return shop, maker, first, second, await _request(conn, shop, maker, 2500_00)

    shop, _maker, olga, ivan, request_id = await run_in_transaction(committed_engine, setup)

    async def approve(owner: int) -> str:
        async def unit(conn: AsyncConnection) -> str:
            me = await session_of(conn, owner, shop)
            await decide(conn, me, request_id, approve=True, note="", now=NOW)
            return "posted"

        try:
            return await run_in_transaction(committed_engine, unit)
        except RequestDecided:
            return "already decided"

    # Two owners at once, and one of them clicking twice.
    results = await asyncio.gather(approve(olga), approve(ivan), approve(olga))
    assert sorted(results) == ["already decided", "already decided", "posted"]
    async with committed_engine.connect() as conn:
        assert await _ledger(conn, shop) == [2500_00]
        status = await conn.scalar(
            text("SELECT status FROM admin_grant_requests WHERE id = :id"), {"id": request_id}
        )
        approvals = await conn.scalar(
            text("SELECT count(*) FROM audit_log WHERE action = 'grant.approved'")
        )
    assert status == "approved"
    assert approvals == 1


async def test_a_portal_keeps_an_owner(db: AsyncConnection) -> None:
    shop = await seed_shop(db)
    olga = await person(db, shop, "olga", "owner")
    with pytest.raises(InvalidCommand, match="at least one owner"):
        await users.set_membership(
            db, olga, shop.portal_id, role="manager", grant_limit=None, actor="test"
        )
    with pytest.raises(InvalidCommand, match="at least one owner"):
        await users.disable_user(db, olga, actor="test", now=NOW)
    ivan = await person(db, shop, "ivan", "owner")
    await users.disable_user(db, olga, actor="admin:ivan", now=NOW)
    assert (await users.user_by_id(db, olga)).disabled
    assert (await users.user_by_id(db, ivan)).role_in(shop.portal_id) == "owner"


async def test_a_request_sent_twice_waits_once(committed_engine: AsyncEngine) -> None:
    async def setup(conn: AsyncConnection) -> tuple[Shop, int]:
        shop = await seed_shop(conn)
        return shop, await person(conn, shop, "anna", "manager")

    shop, anna = await run_in_transaction(committed_engine, setup)

    async def ask() -> int | None:
        async def unit(conn: AsyncConnection) -> int | None:
            me = await session_of(conn, anna, shop)
            outcome = await grant_or_request(
                conn,
                me,
                customer_id=shop.customer_id,
                reason="apology",
                amount=2000_00,
                comment="x",
                key="the-form",
                threshold=THRESHOLD,
                now=NOW,
            )
            return outcome.request_id

        return await run_in_transaction(committed_engine, unit)

    first, second = await asyncio.gather(ask(), ask())  # a double click
    assert first is not None
    assert first == second
    async with committed_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM admin_grant_requests")) == 1
