"""The wallet mirrors Kopilka; the till's spends and refunds come back to the ledger once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import InsufficientPoints
from kopilka.ledger.spending import redeem
from tests.factories import ref
from tests.integration.iiko.conftest import Restaurant

PHONE = "+79161234567"


async def test_wallet_follows_kopilka_and_the_till_comes_back(restaurant: Restaurant) -> None:
    r = restaurant
    customer = await r.api.customer(PHONE, points=1000)

    report = await r.sync()
    assert report.error is None
    assert r.wallet(PHONE) == 1000_00  # the guest made by phone, the wallet levelled

    r.fake.till_spend(PHONE, 300, order="42")
    await r.sync()
    assert await r.available(customer) == 700_00
    assert r.wallet(PHONE) == 700_00

    r.fake.till_refund(PHONE, 300, order="42")
    await r.sync()
    await r.sync()  # a second run changes nothing
    assert await r.available(customer) == 1000_00
    assert r.wallet(PHONE) == 1000_00
    comments = [t.comment for t in r.fake.transactions]
    assert sum(c.startswith("kopilka:push:") for c in comments) == 1  # one topup, then level


async def test_a_push_whose_answer_was_lost_is_not_sent_again(restaurant: Restaurant) -> None:
    r = restaurant
    customer = await r.api.customer(PHONE, points=500)
    r.fake.stall_path("wallet/topup", seconds=3, accept=True)  # done, answered too late
    report = await r.sync()
    assert report.error is not None
    assert "408" in report.error
    assert r.wallet(PHONE) == 500_00  # the first attempt did land
    r.fake.heal()
    await r.sync()
    await r.sync()
    assert r.wallet(PHONE) == 500_00 == await r.available(customer)
    topups = [t for t in r.fake.transactions if t.comment.startswith("kopilka:push:")]
    assert len(topups) == 1


async def test_an_expired_token_is_renewed_once(restaurant: Restaurant) -> None:
    r = restaurant
    await r.api.customer(PHONE, points=100)
    await r.sync()
    issued = r.fake.tokens_issued
    r.fake.expire_tokens()
    await r.api.customer("+79161234568", points=200)
    report = await r.sync()
    assert report.error is None
    assert r.fake.tokens_issued == issued + 1
    assert r.wallet("+79161234568") == 200_00


async def test_iiko_down_then_back(restaurant: Restaurant) -> None:
    r = restaurant
    customer = await r.api.customer(PHONE, points=100)
    for status in (503, 429):
        r.fake.fail_next(1, error=status)
        report = await r.sync()
        assert report.error is not None
        assert str(status) in report.error
    await r.sync()
    assert r.wallet(PHONE) == 100_00 == await r.available(customer)


async def test_points_spent_in_bitrix24_and_at_the_till_never_overdraw(
    restaurant: Restaurant,
) -> None:
    r = restaurant
    customer = await r.api.customer(PHONE, points=1000)
    await r.sync()

    async def spend_in_bitrix24(conn):  # type: ignore[no-untyped-def]
        await redeem(
            conn,
            r.api.book,
            customer_id=customer,
            amount=800_00,
            key=ref("deal"),
            reason="оплата баллами сделки",
            actor="test",
            now=r.api.clock.now,
        )

    await run_in_transaction(r.api.engine, spend_in_bitrix24)
    r.fake.till_spend(PHONE, 500)  # the wallet still showed 1000
    report = await r.sync()

    assert report.shortfall == 300_00
    assert await r.available(customer) == 0
    assert r.wallet(PHONE) == 0

    async def events(conn):  # type: ignore[no-untyped-def]
        return (
            await conn.execute(text("SELECT status, posted, shortfall FROM iiko_till_events"))
        ).all()

    assert [tuple(e) for e in await run_in_transaction(r.api.engine, events)] == [
        ("short", 200_00, 300_00)
    ]


async def test_concurrent_spends_in_bitrix24_and_at_the_till(restaurant: Restaurant) -> None:
    """The Bitrix24 spend and the reconcile posting the till's spend race on the ledger's lock:
    whichever comes second gets only what is left — never an overdraft."""
    r = restaurant
    customer = await r.api.customer(PHONE, points=1000)
    await r.sync()
    r.fake.till_spend(PHONE, 500)

    async def spend_in_bitrix24(conn):  # type: ignore[no-untyped-def]
        await redeem(
            conn,
            r.api.book,
            customer_id=customer,
            amount=800_00,
            key=ref("deal"),
            reason="оплата баллами сделки",
            actor="test",
            now=r.api.clock.now,
        )

    b24, report = await asyncio.gather(
        run_in_transaction(r.api.engine, spend_in_bitrix24), r.sync(), return_exceptions=True
    )
    assert await r.available(customer) >= 0
    if isinstance(b24, InsufficientPoints):  # the till came first: the deal's payment refused
        assert report.shortfall == 0
        assert await r.available(customer) == 500_00
    else:  # Bitrix24 came first: the till's spend is short by 300, reported
        assert b24 is None
        assert report.shortfall == 300_00
        assert await r.available(customer) == 0
    await r.sync()
    assert r.wallet(PHONE) == await r.available(customer)
