"""Issue 17, item 6: Kopilka's robots and activities in an emulated portal where Kopilka is an
installed application. The portal's queue server posts each call to ``/b24/robot``, Kopilka does
it through the ledger's own paths and answers with ``bizproc.event.send``; the return values and
the log line reach the portal. The same call posted twice posts once; a refusal reaches the
robot's log; a forged or foreign call is refused and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from b24emu import CommandError, Faults
from kopilka.db.tables import b24_rejected_events, b24_robot_calls, holds, ledger_transactions
from kopilka.process.devstack import Stack, example
from kopilka.process.devstack import kopilka_on_emulator as stack_on_emulator
from kopilka.program.loader import load_program
from kopilka.robots.registration import register_robots

pytestmark = pytest.mark.timeout(120)

PAY = "UF_CRM_KOP_PAY_POINTS"
#: the retail program, and a review bonus of 500 once a year (R-11)
REVIEW = """
manual_bonuses:
  review:
    title: Бонус за отзыв
    default_amount: 500
    max_per_grant: 500
    per_period: {max_total: 500, period: year}
"""


@asynccontextmanager
async def app_stack(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Stack]:
    _path, source = example("retail-wholesale.yaml")
    program = tmp_path / "retail-review.yaml"
    program.write_text(source + REVIEW, encoding="utf-8")
    async with stack_on_emulator(
        engine, load_program(program), program.read_text(encoding="utf-8"), app=True
    ) as stack:
        yield stack


async def answer(h: Stack, token: str) -> dict[str, Any]:
    got = await asyncio.to_thread(h.portal.wait_robot, token, 30.0)
    assert got is not None, "Kopilka never answered the robot"
    return got


async def final_states(h: Stack) -> list[str]:
    """Every call's state once none is pending (the job ends a call after the portal took the
    answer; the test's timeout bounds the wait)."""
    while True:
        async with h.engine.connect() as conn:
            states = list((await conn.execute(select(b24_robot_calls.c.state))).scalars())
        if "pending" not in states:
            return states
        await asyncio.sleep(0.05)


async def count(h: Stack, table: Any, *where: Any) -> int:
    async with h.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def test_robots_run_end_to_end(committed_engine: AsyncEngine, tmp_path: Path) -> None:
    async with app_stack(committed_engine, tmp_path) as h:
        # registered at install: four robots on deals, the same four as activities
        mine = {key.split(":", 1)[1]: r for key, r in h.portal.robots.items()}
        assert sorted(mine) == ["kopilka_accrue", "kopilka_balance", "kopilka_card", "kopilka_pay"]
        assert all(r["HANDLER"] == h.web_url + "/b24/robot" for r in mine.values())
        assert mine["kopilka_accrue"]["NAME"]["ru"] == "Копилка: начислить бонусы"
        assert len(h.portal.bp_activities) == 4

        anna = int(
            h.call(
                "crm.contact.add",
                {
                    "fields": {
                        "NAME": "Анна",
                        "TYPE_ID": "CLIENT",
                        "PHONE": [{"VALUE": "+7 999 123-45-67", "VALUE_TYPE": "WORK"}],
                    }
                },
            )
        )
        won = h.add_deal(anna, "100000")
        h.move(won, "WON")
        await h.settle()
        assert (await h.balance(anna)).available == 500000  # 5 % of 100 000

        # accrue on the deal, posted twice at once by the queue server: one grant, one answer
        token = h.portal.run_robot("kopilka_accrue", f"DEAL_{won}", {"reason": "review"}, 2)
        h.portal.redeliver_robot(token)
        got = await answer(h, token)
        assert got["RETURN_VALUES"] == {"balance": "5500", "error": ""}
        assert got["LOG_MESSAGE"].startswith("Копилка: +500 бонусов — Бонус за отзыв")
        assert "пользователь Bitrix24 2" in got["LOG_MESSAGE"]
        assert await asyncio.to_thread(h.portal.wait_robot_delivered, token, 2)
        manual = ledger_transactions.c.rule_id == "manual:review"
        assert await count(h, ledger_transactions, manual) == 1
        assert h.portal.robot_calls[token].log == [got["LOG_MESSAGE"]]  # answered once
        assert await count(h, b24_robot_calls, b24_robot_calls.c.deliveries == 2) == 1

        # a second review bonus this year: refused, and the robot's log says why
        again = h.portal.run_robot("kopilka_accrue", f"DEAL_{won}", {"reason": "review"}, 2)
        refused = await answer(h, again)
        assert refused["RETURN_VALUES"]["error"]
        assert "balance" not in refused["RETURN_VALUES"]
        assert refused["LOG_MESSAGE"].startswith("Копилка: не выполнено — ")
        assert await count(h, ledger_transactions, manual) == 1

        # an open deal of 10 000: the balance robot tells the cap (40 %), pay applies within it
        deal = h.add_deal(anna, "10000")
        await h.settle()
        told = await answer(h, h.portal.run_robot("kopilka_balance", f"DEAL_{deal}"))
        assert told["RETURN_VALUES"] == {
            "balance": "5500",
            "level": "",
            "card_number": "",
            "max_payable": "4000",
            "error": "",
        }
        paid = await answer(h, h.portal.run_robot("kopilka_pay", f"DEAL_{deal}", {"amount": 5000}))
        assert paid["RETURN_VALUES"] == {"applied": "4000", "balance": "1500", "error": ""}
        # asked as the deal tab asks: the field says what will be paid (the cap)
        assert float(h.call("crm.deal.get", {"id": deal})[PAY]) == 4000
        assert await count(h, holds, holds.c.status == "active", holds.c.amount == 400000) == 1

        # the card, by the contact's phone; then the balance as a business process on the contact
        card = await answer(h, h.portal.run_robot("kopilka_card", f"DEAL_{deal}"))
        assert card["RETURN_VALUES"] == {"card_number": "+79991234567", "error": ""}
        on_contact = h.portal.run_activity("kopilka_balance_bp", f"CONTACT_{anna}")
        told = await answer(h, on_contact)
        assert told["RETURN_VALUES"]["card_number"] == "+79991234567"
        assert told["RETURN_VALUES"]["balance"] == "1500"
        assert told["RETURN_VALUES"]["max_payable"] == ""
        # a deal with nobody to pay or earn: refused, and the log says so
        nobody = int(h.call("crm.deal.add", {"fields": {"TITLE": "Без покупателя"}}))
        lone = await answer(h, h.portal.run_robot("kopilka_card", f"DEAL_{nobody}"))
        assert lone["RETURN_VALUES"] == {"error": f"у сделки {nobody} нет контакта-покупателя"}
        assert set(await final_states(h)) == {"answered"}

        # registered again (a re-install, a new public URL): the same robots, updated in place
        moved = h.web_url + "/b24/robot-moved"
        codes = await register_robots(h.services.client_for(h.connection), moved)
        assert codes[:4] == sorted(mine)
        assert codes[4:] == [code + "_bp" for code in sorted(mine)]
        assert {r["HANDLER"] for r in h.portal.robots.values()} == {moved}
        assert {r["HANDLER"] for r in h.portal.bp_activities.values()} == {moved}
        assert len(h.portal.robots) == 4


async def test_forged_and_foreign_calls_change_nothing(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with app_stack(committed_engine, tmp_path) as h:
        anna = h.add_contact("Анна")
        deal = h.add_deal(anna, "1000")
        await h.settle()
        # the true form, as the portal posts it (never answered: its posts are taken below)
        token = h.portal.run_robot("kopilka_accrue", f"DEAL_{deal}", {"reason": "review"})
        assert await asyncio.to_thread(h.portal.wait_robot_delivered, token)
        await answer(h, token)
        genuine = dict(h.portal.robot_calls[token].form)
        before = await count(h, ledger_transactions)
        calls = await count(h, b24_robot_calls)
        forged = {**genuine, "event_token": genuine["event_token"] + "x"}
        async with httpx.AsyncClient(base_url=h.web_url, trust_env=False) as http:
            for wrong in (
                {**forged, "auth[application_token]": "0" * 32},  # forged token
                {**forged, "auth[member_id]": "someone-else"},  # a portal not connected
                {**forged, "auth[member_id]": genuine["auth[member_id]"] + "0" * 64},
                {k: v for k, v in forged.items() if k != "auth[application_token]"},
            ):
                refused = await http.post("/b24/robot", data=wrong)
                assert refused.status_code == 401
                assert "could not be verified" in refused.text
            for bad in (
                {**forged, "document_id[2]": "DEAL_1; DROP"},
                {**forged, "event_token": ""},
                {**forged, "code": "../x"},
                {**forged, **{f"properties[p{i}]": "1" for i in range(21)}},
            ):
                assert (await http.post("/b24/robot", data=bad)).status_code == 400
        assert await count(h, b24_rejected_events) == 4
        assert await count(h, ledger_transactions) == before
        assert await count(h, b24_robot_calls) == calls


async def test_an_answer_the_portal_failed_is_sent_again(
    committed_engine: AsyncEngine, tmp_path: Path
) -> None:
    """A 500 on ``bizproc.event.send`` (the answer may or may not have arrived) fails the job;
    its retry sends the answer decided the first time, and posts nothing again."""
    async with app_stack(committed_engine, tmp_path) as h:
        anna = h.add_contact("Анна")
        deal = h.add_deal(anna, "1000")
        await h.settle()
        broken = CommandError(
            "bizproc.event.send", code="INTERNAL_SERVER_ERROR", description="boom", status=500
        )
        h.portal.faults = Faults(command_errors=(broken,))
        token = h.portal.run_robot("kopilka_accrue", f"DEAL_{deal}", {"reason": "review"}, 2)

        def refused_once() -> bool:
            return h.portal.stats.requests_by_method.get("bizproc.event.send", 0) >= 1

        while not refused_once():  # bounded by the test's timeout
            await asyncio.sleep(0.05)
        h.portal.faults = Faults()
        got = await answer(h, token)
        assert got["RETURN_VALUES"] == {"balance": "500", "error": ""}
        assert h.portal.stats.requests_by_method["bizproc.event.send"] >= 2
        manual = ledger_transactions.c.rule_id == "manual:review"
        assert await count(h, ledger_transactions, manual) == 1
        async with h.engine.connect() as conn:
            attempts = await conn.scalar(select(b24_robot_calls.c.attempts))
        assert attempts == 1  # decided once
        assert await final_states(h) == ["answered"]
