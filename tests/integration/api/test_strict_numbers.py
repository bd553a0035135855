"""Money and points in requests are JSON numbers: ``"100"`` or ``true`` is refused with 422 and a
reason, and nothing is written (issue 12, item 10)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import ref
from tests.integration.api.conftest import POINT, ApiEnv
from tests.integration.api.test_pos import balance, order, post


async def pos_orders(api: ApiEnv) -> int:
    async with api.engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pos_orders WHERE portal_id = :p"), {"p": api.portal_id}
        )
    return int(found or 0)


@pytest.mark.parametrize("wrong", ["100", True, 100.5])
async def test_pay_points_must_be_a_number(api: ApiEnv, wrong: Any) -> None:
    anna = await api.customer(points=50)
    body = order(anna, 1_000, order_id=ref("o")) | {"pay_points": wrong}
    answer = await post(api, "hold", body)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["error"]["details"]
    assert any("pay_points" in p["field"] for p in problems), problems
    assert await pos_orders(api) == 0
    assert (await balance(api, anna))["held"] == 0

    right = await post(api, "hold", body | {"pay_points": 10 * POINT})
    assert right.status_code == 201, right.text
    assert right.json()["order"]["points_paid"] == 10 * POINT
    assert await pos_orders(api) == 1


@pytest.mark.parametrize(
    ("where", "wrong"),
    [("price", "1000"), ("quantity", True), ("amount", "5000")],
)
async def test_other_amounts_are_strict_too(api: ApiEnv, where: str, wrong: Any) -> None:
    anna = await api.customer(points=50)
    if where == "amount":
        body = {"customer": {"customer_id": anna}, "reason": "review", where: wrong}
        answer = await api.client.post(
            "/api/v1/grants",
            json=body,
            headers=api.auth(api.granter) | {"Idempotency-Key": ref("g")},
        )
    else:
        body = order(anna, 1_000, order_id=ref("o"))
        body["lines"][0][where] = wrong
        answer = await post(api, "hold", body)
    assert answer.status_code == 422, answer.text
    assert where in str(answer.json()["error"]["details"])
    assert await pos_orders(api) == 0
    assert (await balance(api, anna))["available"] == 50 * POINT
