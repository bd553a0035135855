"""Seed 000's mailings (issue 18, item 6): the retail and the wholesale offer each reach their
own UniSender list through ``importContacts`` (the fake, over real HTTP), with the right
contacts — the portal's contact type decides the segment, a customer who opted out is never
exported, a wholesale customer without an e-mail is not in an e-mail segment, a contact that
never bought is nobody's customer — from the admin's button, the CLI's path and the daily job
alike; and the CSV holds the same contacts."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin import passwords
from kopilka.config import Settings
from kopilka.db.engine import run_in_transaction
from kopilka.fakes import UniSenderFake
from kopilka.ledger.book import ensure_customer
from kopilka.notify.outbox import opt_out
from kopilka.process.devstack import emulated_portal
from kopilka.segments.exports import export_csv, export_unisender, run_daily
from tests.b24harness import Harness, kopilka_on_emulator

pytestmark = pytest.mark.timeout(300)
KEY = "segments-key"
RETAIL, WHOLESALE = 1, 2  # the lists of examples/retail-wholesale.yaml


def _contact(h: Harness, name: str, type_id: str, email: str = "", phone: str = "") -> int:
    fields: dict[str, Any] = {"NAME": name, "LAST_NAME": "Тестова", "TYPE_ID": type_id}
    if email:
        fields["EMAIL"] = [{"VALUE": email, "VALUE_TYPE": "WORK"}]
    if phone:
        fields["PHONE"] = [{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]
    return int(h.call("crm.contact.add", {"fields": fields}))


async def _customers(h: Harness, ids: dict[str, int], opted: list[str]) -> None:
    """The contacts that bought: Kopilka's customers (the sync makes them from won deals)."""
    portal_id = h.connection.portal_id

    async def unit(conn: Any) -> None:
        for name, contact_id in ids.items():
            customer = await ensure_customer(conn, portal_id, f"contact:{contact_id}", name=name)
            if name in opted:
                await opt_out(conn, portal_id, customer, "cabinet")

    await run_in_transaction(h.engine, unit)


async def test_the_offers_of_seed_000_reach_the_right_unisender_lists(
    committed_engine: AsyncEngine,
) -> None:
    with UniSenderFake(api_key=KEY, list_ids=(RETAIL, WHOLESALE)) as fake:
        settings = Settings(
            b24_interval=0.05, b24_burst=10, unisender_api_key=KEY, unisender_url=fake.url
        )
        async with kopilka_on_emulator(
            committed_engine, program="retail-wholesale.yaml", settings=settings, worker=False
        ) as h:
            ids = {
                "ivan": _contact(h, "Иван", "1", "ivan@opt.example", "+79160000001"),
                "olga": _contact(h, "Ольга", "1", "olga@opt.example"),  # opted out
                "gleb": _contact(h, "Глеб", "1", phone="+79160000003"),  # no e-mail
                "anna": _contact(h, "Анна", "CLIENT", phone="+79160000004"),
                "maria": _contact(h, "Мария", "CLIENT", "maria@shop.example"),
            }
            never = _contact(h, "Пётр", "1", "petr@opt.example")  # never bought
            await _customers(h, ids, opted=["olga"])
            portal_id = h.connection.portal_id

            wholesale = await export_unisender(
                h.services, portal_id, "wholesale-offer", trigger="admin", actor="admin"
            )
            assert (wholesale.error, wholesale.contacts, wholesale.inserted) == (None, 1, 1)
            # an e-mail segment: Ivan by his e-mail only; not Olga, Gleb, Pyotr nor the retail
            assert fake.members(WHOLESALE) == {"ivan@opt.example"}
            assert fake.imports[-1] == [
                {"email": "ivan@opt.example", "email_list_ids": "2", "phone": "",
                 "phone_list_ids": "", "Name": "Иван Тестова", "delete": ""}
            ]  # fmt: skip

            retail = await export_unisender(
                h.services, portal_id, "retail-offer", trigger="cli", actor="cli"
            )
            assert (retail.contacts, retail.inserted, retail.invalid) == (2, 2, 0)
            assert fake.members(RETAIL) == {"79160000004", "maria@shop.example"}

            # the daily job: both segments again, once a day, recorded as updates
            daily = await run_daily(h.services)
            assert sorted((d.segment, d.updated) for d in daily) == [
                ("retail-offer", 2),
                ("wholesale-offer", 1),
            ]
            assert await run_daily(h.services) == []  # done for today

            _out, table = await export_csv(
                h.services, portal_id, "retail-offer", trigger="admin", actor="admin"
            )
            rows = list(csv.DictReader(io.StringIO(table)))
            assert {(int(r["contact_id"]), r["email"], r["phone"]) for r in rows} == {
                (ids["anna"], "", "+79160000004"),
                (ids["maria"], "maria@shop.example", ""),
            }
            assert never not in {int(r["contact_id"]) for r in rows}

            # Maria opts out in the cabinet, Anna becomes a wholesale buyer (without an e-mail,
            # so not in the wholesale e-mail segment either): both leave the retail list
            async def leave(conn: Any) -> None:
                maria = await conn.scalar(
                    text("SELECT id FROM customers WHERE external_id = :e"),
                    {"e": f"contact:{ids['maria']}"},
                )
                await opt_out(conn, portal_id, int(maria), "cabinet")

            await run_in_transaction(h.engine, leave)
            h.call("crm.contact.update", {"id": ids["anna"], "fields": {"TYPE_ID": "1"}})
            again = await export_unisender(
                h.services, portal_id, "retail-offer", trigger="admin", actor="admin"
            )
            assert (again.error, again.contacts, again.deleted) == (None, 0, 2)
            assert fake.members(RETAIL) == set()
            assert fake.members(WHOLESALE) == {"ivan@opt.example"}

            async with h.engine.connect() as conn:
                recorded = (
                    await conn.execute(
                        text("SELECT segment, target, trigger, status, contacts, list_id"
                             " FROM segment_exports WHERE portal_id = :p ORDER BY id"),
                        {"p": portal_id},
                    )
                ).all()  # fmt: skip
            assert [tuple(r) for r in recorded] == [
                ("wholesale-offer", "unisender", "admin", "done", 1, WHOLESALE),
                ("retail-offer", "unisender", "cli", "done", 2, RETAIL),
                ("wholesale-offer", "unisender", "daily", "done", 1, WHOLESALE),
                ("retail-offer", "unisender", "daily", "done", 2, RETAIL),
                ("retail-offer", "csv", "admin", "done", 2, None),
                ("retail-offer", "unisender", "admin", "done", 0, RETAIL),
            ]


async def test_refused_rows_and_refused_calls_are_recorded(committed_engine: AsyncEngine) -> None:
    with UniSenderFake(api_key=KEY, list_ids=(RETAIL,)) as fake:  # list 2 is not the account's
        settings = Settings(
            b24_interval=0.05, b24_burst=10, unisender_api_key=KEY, unisender_url=fake.url
        )
        async with kopilka_on_emulator(
            committed_engine, program="retail-wholesale.yaml", settings=settings, worker=False
        ) as h:
            ivan = _contact(h, "Иван", "1", "ivan@opt.example")
            await _customers(h, {"ivan": ivan}, opted=[])
            portal_id = h.connection.portal_id
            # UniSender takes the call and refuses the row: counted and logged
            rows = await export_unisender(
                h.services, portal_id, "wholesale-offer", trigger="admin", actor="admin"
            )
            assert (rows.error, rows.inserted, rows.invalid) == (None, 0, 1)
            assert rows.log == [{"index": 0, "code": "invalid_arg",
                                 "message": "a list id is not a list of the account"}]  # fmt: skip
            assert fake.members(WHOLESALE) == set()
            # UniSender refuses the call itself: the export failed, and says why
            fake.fail_next(1, error="invalid_api_key")
            call = await export_unisender(
                h.services, portal_id, "wholesale-offer", trigger="admin", actor="admin"
            )
            assert call.error is not None
            assert call.error.startswith("unisender: invalid_api_key")
            async with h.engine.connect() as conn:
                recorded = (
                    await conn.execute(
                        text("SELECT status, invalid, error, log FROM segment_exports"
                             " WHERE portal_id = :p ORDER BY id"),
                        {"p": portal_id},
                    )
                ).all()  # fmt: skip
            assert [(r.status, r.invalid) for r in recorded] == [("done", 1), ("failed", 0)]
            assert recorded[0].log == rows.log
            assert recorded[1].error == call.error


async def test_the_admin_exports_a_segment_and_downloads_its_csv(
    committed_engine: AsyncEngine,
) -> None:
    portal = emulated_portal()
    with UniSenderFake(api_key=KEY, list_ids=(RETAIL, WHOLESALE)) as fake:
        settings = Settings(
            b24_interval=0.05,
            b24_burst=10,
            unisender_api_key=KEY,
            unisender_url=fake.url,
            cabinet_portal=portal.member_id,
            admin_password_hash=SecretStr(passwords.hash_password("pw", iterations=1_000)),
        )
        async with kopilka_on_emulator(
            committed_engine,
            program="retail-wholesale.yaml",
            portal=portal,
            settings=settings,
            worker=False,
        ) as h:
            ivan = _contact(h, "Иван", "1", "ivan@opt.example")
            maria = _contact(h, "Мария", "CLIENT", "maria@shop.example")
            await _customers(h, {"ivan": ivan, "maria": maria}, opted=[])
            async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as client:
                await client.get("/admin/login")
                csrf = str(client.cookies.get("kop_csrf"))
                signed = await client.post("/admin/login", data={"password": "pw", "csrf": csrf})
                assert signed.status_code == 303
                page = (await client.get("/admin/segments")).text
                assert 'data-segment="wholesale-offer"' in page
                assert 'data-segment="retail-offer"' in page
                english = (await client.get("/admin/segments?lang=en")).text
                assert "Export to UniSender" in english
                assert "Выгрузить" not in english

                forged = await client.post("/admin/segments/wholesale-offer/unisender", data={})
                assert forged.status_code == 403
                assert fake.imports == []

                form = {"csrf": str(client.cookies.get("kop_csrf"))}
                done = await client.post("/admin/segments/wholesale-offer/unisender", data=form)
                assert done.status_code == 303
                assert "done=seg.done" in done.headers["location"]
                assert fake.members(WHOLESALE) == {"ivan@opt.example"}

                table = await client.post("/admin/segments/retail-offer/csv", data=form)
                assert table.headers["content-type"].startswith("text/csv")
                assert "attachment" in table.headers["content-disposition"]
                rows = list(csv.DictReader(io.StringIO(table.text)))
                assert [(int(r["contact_id"]), r["email"]) for r in rows] == [
                    (maria, "maria@shop.example")
                ]

                unknown = await client.post("/admin/segments/nobody/unisender", data=form)
                assert unknown.status_code == 400
                assert "The program has no such segment" in unknown.text  # the page is in English
                history = (await client.get("/admin/segments")).text
                assert history.count('class="row export"') == 2
