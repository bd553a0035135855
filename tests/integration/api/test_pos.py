"""The POS flow through the real app and database: quotes, holds, commits, refunds, retries."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from kopilka.ledger.invariants import check_invariants
from tests.factories import ref
from tests.integration.api.conftest import POINT, ApiEnv

RUB = 100  # kopecks


def order(customer: int, *lines: int, pay: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"customer_id": customer},
        "lines": [
            {"id": f"L{i}", "name": f"Товар {i}", "price": rub * RUB} for i, rub in enumerate(lines)
        ],
        **extra,
    }
    if pay is not None:
        body["pay_points"] = pay * POINT
    return body


async def balance(api: ApiEnv, customer: int) -> dict[str, Any]:
    answer = await api.client.get(f"/api/v1/customers/{customer}/balance", headers=api.auth())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def post(api: ApiEnv, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = api.auth() | {"Idempotency-Key": key or ref("idem")}
    return await api.client.post(f"/api/v1/pos/{path}", json=body, headers=headers)


async def test_calculate_caps_by_the_share_and_writes_nothing(api: ApiEnv) -> None:
    anna = await api.customer(points=5000)
    answer = await api.client.post(
        "/api/v1/pos/calculate", json=order(anna, 10_000, pay=5000), headers=api.auth()
    )
    assert answer.status_code == 200, answer.text
    quote = answer.json()
    # S1's numbers: 5 000 asked, 40 % of 10 000 → 4 000; 5 % of the 6 000 paid in money → 300.
    assert quote["pay_points"] == 4000 * POINT
    assert quote["capped_by"] == "share"
    assert quote["earn"] == 300 * POINT
    assert "40\u00a0%" in quote["explanation_ru"]
    most = await api.client.post(
        "/api/v1/pos/calculate", json=order(anna, 10_000), headers=api.auth()
    )
    assert most.json()["pay_points"] == 4000 * POINT
    none = await api.client.post(
        "/api/v1/pos/calculate", json=order(anna, 10_000, pay=0), headers=api.auth()
    )
    assert none.json()["pay_points"] == 0
    assert none.json()["max_payable"] == 4000 * POINT
    assert none.json()["earn"] == 500 * POINT
    assert (await balance(api, anna))["available"] == 5000 * POINT


async def test_hold_and_commit_with_retries_of_the_same_key(api: ApiEnv) -> None:
    anna = await api.customer(points=5000)
    body = order(anna, 10_000, pay=5000, order_id="123")
    first = await post(api, "hold", body, key="till-1:hold:123")
    assert first.status_code == 201, first.text
    assert first.json()["order"]["points_paid"] == 4000 * POINT
    assert first.json()["order"]["hold"]["status"] == "active"

    again = await post(api, "hold", body, key="till-1:hold:123")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    other = await post(api, "hold", {**body, "pay_points": 100}, key="till-1:hold:123")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    twin = await post(api, "hold", body)  # the same order under another key
    assert twin.status_code == 409
    assert twin.json()["error"]["code"] == "order_exists"

    b = await balance(api, anna)
    assert (b["available"], b["held"]) == (1000 * POINT, 4000 * POINT)

    done = await post(api, "commit", {"order_id": "123"}, key="till-1:commit:123")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "committed"
    assert done.json()["points_earned"] == 300 * POINT
    retried = await post(api, "commit", {"order_id": "123"}, key="till-1:commit:123")
    assert retried.json() == done.json()
    assert retried.headers["idempotent-replayed"] == "true"
    by_order = await post(api, "commit", {"order_id": "123"})  # a new key: same order, same answer
    assert by_order.status_code == 200
    assert by_order.json() == done.json()

    b = await balance(api, anna)
    assert (b["total"], b["available"], b["held"]) == (1300 * POINT, 1300 * POINT, 0)
    history = await api.client.get(f"/api/v1/customers/{anna}/history", headers=api.auth())
    reasons = [item["reason"] for item in history.json()["items"]]
    assert any(r.startswith("заказ №123: +300") and "5\u00a0%" in r for r in reasons), reasons
    assert sum(1 for item in history.json()["items"] if item["kind"] == "accrual") == 2

    missing_key = await api.client.post(
        "/api/v1/pos/cancel", json={"order_id": "123"}, headers=api.auth()
    )
    assert missing_key.status_code == 400
    assert missing_key.json()["error"]["code"] == "idempotency_key_required"
    cancel = await post(api, "cancel", {"order_id": "123"})
    assert cancel.status_code == 409
    assert cancel.json()["error"]["code"] == "order_not_open"


async def test_a_hold_that_expires_gives_the_points_back(api: ApiEnv) -> None:
    anna = await api.customer(points=1000)
    held = await post(api, "hold", order(anna, 2000, pay=500, order_id="E1", ttl_seconds=60))
    assert held.status_code == 201, held.text
    assert (await balance(api, anna))["held"] == 500 * POINT

    api.clock.advance(seconds=61)
    late = await post(api, "commit", {"order_id": "E1"})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "hold_expired"
    b = await balance(api, anna)
    assert (b["available"], b["held"]) == (1000 * POINT, 0)
    view = await api.client.get("/api/v1/orders/E1", headers=api.auth())
    assert view.json()["hold"]["status"] == "expired"
    assert view.json()["status"] == "held"
    cancelled = await post(api, "cancel", {"order_id": "E1"})
    assert cancelled.json()["status"] == "cancelled"
    assert (await balance(api, anna))["total"] == 1000 * POINT


async def test_refunds_after_part_of_the_points_were_spent(api: ApiEnv) -> None:
    boris = await api.customer(points=1000)
    # Order A: 6 000 + 4 000 ₽, 1 000 points paid (all he has), 5 % of 9 000 earned → 450.
    a = await post(api, "hold", order(boris, 6000, 4000, pay=1000, order_id="A"))
    assert a.json()["order"]["points_paid"] == 1000 * POINT
    assert (await post(api, "commit", {"order_id": "A"})).json()["points_earned"] == 450 * POINT
    assert (await balance(api, boris))["available"] == 450 * POINT
    # Order B spends 300 of the points A earned: 150 left, +35 (5 % of 700).
    await post(api, "hold", order(boris, 1000, pay=300, order_id="B"))
    await post(api, "commit", {"order_id": "B"})
    assert (await balance(api, boris))["available"] == 185 * POINT

    # The 4 000 ₽ line of A comes back: A now paid 600 of its 6 000 with points and earns 5 % of
    # 5 400 = 270. 1 000 back, 600 paid again, 450 taken back, 270 earned: 185 + 220 = 405.
    part = await post(api, "refund", {"order_id": "A", "line_ids": ["L1"]}, key="refund-A-L1")
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "committed"
    assert part.json()["points_paid"] == 600 * POINT
    assert part.json()["points_earned"] == 270 * POINT
    assert [line["refunded"] for line in part.json()["lines"]] == [False, True]
    assert (await balance(api, boris))["available"] == 405 * POINT
    replay = await post(api, "refund", {"order_id": "A", "line_ids": ["L1"]}, key="refund-A-L1")
    assert replay.json() == part.json()
    assert (await balance(api, boris))["available"] == 405 * POINT
    again = await post(api, "refund", {"order_id": "A", "line_ids": ["L1"]})
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "unknown_line"

    rest = await post(api, "refund", {"order_id": "A"})
    assert rest.json()["status"] == "refunded"
    assert (rest.json()["points_paid"], rest.json()["points_earned"]) == (0, 0)
    # As if A never happened: 1 000 − 300 (B) + 35 (B) = 735.
    assert (await balance(api, boris))["available"] == 735 * POINT

    # Vera earned 500 on C and spent 400 of them on D: C's refund cannot take 500 back.
    vera = await api.customer()
    await post(api, "hold", order(vera, 10_000, pay=0, order_id="C"))
    await post(api, "commit", {"order_id": "C"})
    await post(api, "hold", order(vera, 1000, pay=400, order_id="D"))
    await post(api, "commit", {"order_id": "D"})
    assert (await balance(api, vera))["available"] == 130 * POINT
    refused = await post(api, "refund", {"order_id": "C"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "insufficient_points"
    assert (await balance(api, vera))["available"] == 130 * POINT
    view = await api.client.get("/api/v1/orders/C", headers=api.auth())
    assert view.json()["status"] == "committed"
    assert view.json()["points_earned"] == 500 * POINT


async def test_two_cash_desks_spend_one_balance_at_once(api: ApiEnv) -> None:
    gleb = await api.customer(points=1000)
    bodies = [order(gleb, 2000, pay=400, order_id=f"T{i}") for i in range(6)]
    answers = await asyncio.gather(*(post(api, "hold", body) for body in bodies))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    paid = sorted(a.json()["order"]["points_paid"] for a in answers)
    assert sum(paid) == 1000 * POINT  # every point spent once, none twice
    assert paid == [0, 0, 0, 200 * POINT, 400 * POINT, 400 * POINT]
    b = await balance(api, gleb)
    assert (b["available"], b["held"]) == (0, 1000 * POINT)

    commits = await asyncio.gather(*(post(api, "commit", {"order_id": f"T{i}"}) for i in range(6)))
    assert all(c.status_code == 200 for c in commits), [c.text for c in commits]
    earned = sum(c.json()["points_earned"] for c in commits)
    # 5 % of what was paid in money: 6 × 2 000 ₽ − 1 000 ₽ of points = 11 000 ₽ → 550.
    assert earned == 550 * POINT
    assert (await balance(api, gleb))["available"] == 550 * POINT
    async with api.engine.connect() as conn:
        assert await check_invariants(conn) == []
        negative = await conn.scalar(
            text("SELECT count(*) FROM accounts WHERE balance < 0 AND kind IN ('customer', 'held')")
        )
    assert negative == 0
