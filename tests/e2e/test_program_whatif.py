"""The what-if replay equals reality (issue 14): a seeded history of won deals synced under
program A; `kopilka program whatif B` on it must give, contact by contact, the points a *copy* of
the portal — the same deals in a second emulated portal, connected with program B and synced —
actually earned, and the same levels. B changes the rates, the eligible sections, the levels'
basis and the split between a deal's contacts. A hand-computed customer is the absolute oracle.

600 deals (the issue suggests 10 000): the same replay code runs for every deal, and 600 keep
the test near half a minute; ``bench/whatif.py`` runs 100 000."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from b24emu import EmuServer, Portal
from kopilka.cli import app
from kopilka.process.devstack import TEST_RATE

DEALS = 600
CONTACTS = 40

HEAD = """
program: shop
title: Магазин
timezone: Europe/Moscow
points: {rounding: down, step: 1}
pipelines:
  retail: {id: 0, title: Розница}
catalog_sections:
  repair: {id: 1, title: Ремонт}
  tuning: {id: 2, title: Тюнинг}
  consumables: {id: 3, title: Расходники}
  goods: {id: 4, title: Товары}
earn:
  - id: level-cashback
    title: Кэшбэк по статусу
    percent: level
redemption: {max_share: 30, earn_on_paid_with_points: false}
expiry: {after: never}
fields:
  contact:
    balance: UF_CRM_KOP_BALANCE
    level: UF_CRM_KOP_LEVEL
  deal:
    pay_with_points: UF_CRM_KOP_PAY_POINTS
"""
PROGRAM_A = (
    HEAD
    + """
eligible_sections: {include: [repair, tuning], unknown_section: skip}
split: {mode: primary}
levels:
  basis: won_deals
  period: lifetime
  count_current_deal: true
  tiers:
    - {id: silver, title: Серебряный, from: 1, percent: 3}
    - {id: gold, title: Золотой, from: 6, percent: 5}
    - {id: platinum, title: Платиновый, from: 14, percent: 7}
"""
)
PROGRAM_B = (
    HEAD
    + """
eligible_sections: {include: [repair, tuning, goods], unknown_section: skip}
split: {mode: equal}
levels:
  basis: purchases_total
  period: lifetime
  count_current_deal: false
  tiers:
    - {id: base, title: Базовый, from: 0, percent: 2}
    - {id: gold, title: Золотой, from: 10000, percent: 4}
    - {id: vip, title: VIP, from: 200000, percent: 6}
"""
)
# The demo catalog: products 1-3 «Ремонт», 4-5 «Тюнинг», 6-8 «Расходники», 9-10 «Товары».
PRICES = {1: 2500, 2: 1500, 3: 3000, 4: 25000, 5: 12000, 6: 3200, 7: 650, 8: 1400, 9: 7990,
          10: 2490}  # fmt: skip


def kopilka(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def call(portal: Portal, method: str, params: dict[str, Any]) -> Any:
    answer = portal.call(method, params)
    assert "error" not in answer, answer
    return answer["result"]


def won(portal: Portal, contacts: list[int], day: datetime, rows: list[tuple[int, int]]) -> int:
    deal = call(
        portal,
        "crm.deal.add",
        {
            "fields": {
                "STAGE_ID": "WON",
                "CLOSEDATE": f"{day:%Y-%m-%d}",
                "CONTACT_ID": contacts[0],
                "CONTACT_IDS": contacts,
            }
        },
    )
    call(
        portal,
        "crm.deal.productrows.set",
        {
            "id": deal,
            "rows": [
                {"PRODUCT_ID": p, "PRICE": PRICES[p], "QUANTITY": q, "PRODUCT_NAME": f"p{p}"}
                for p, q in rows
            ],
        },
    )
    return int(deal)


def add_contact(portal: Portal, name: str) -> int:
    return int(call(portal, "crm.contact.add", {"fields": {"NAME": name, "TYPE_ID": "CLIENT"}}))


def seed(portal: Portal) -> int:
    """The same history in any portal (same ids, same dates); returns the hand-checked
    contact: three deals, alone, late in the history."""
    rng = random.Random(14)
    people = [add_contact(portal, f"Клиент {n}") for n in range(CONTACTS)]
    zoya = add_contact(portal, "Зоя")
    start = datetime.now(UTC) - timedelta(days=400)
    for n in range(DEALS):
        day = start + timedelta(days=n * 390 // DEALS)
        who = rng.sample(people, 2 if rng.random() < 0.2 else 1)
        rows = [(rng.randint(1, 10), rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
        won(portal, who, day, rows)
    late = start + timedelta(days=395)
    won(portal, [zoya], late, [(4, 1), (6, 1)])  # 25 000 tuning + 3 200 consumables
    won(portal, [zoya], late, [(9, 1)])  # 7 990 goods
    won(portal, [zoya], late, [(1, 1)])  # 2 500 repair
    return zoya


def connect(portal: Portal, server: EmuServer, program: Path) -> str:
    webhook = portal.add_webhook(user_id=1, scopes=("crm", "user", "catalog"))
    token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
    out = kopilka(
        "connect", "--webhook", webhook, "--event-token", token, "-p", str(program),
        "--member-id", portal.member_id,
    )  # fmt: skip
    found = re.search(r"connected portal (\d+)", out)
    assert found, out
    ref = found.group(1)
    kopilka("provision", "--portal", ref)
    kopilka("sync", "--all", "--portal", ref)
    return ref


def points(ref: str, contact: int) -> int:
    return int(json.loads(kopilka("balance", str(contact), "--portal", ref, "--json"))["total"])


def test_the_what_if_equals_the_copy_synced_under_the_candidate(
    database: str, tmp_path: Path
) -> None:
    a_file, b_file = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a_file.write_text(PROGRAM_A, encoding="utf-8")
    b_file.write_text(PROGRAM_B, encoding="utf-8")
    original = Portal.seeded("demo", rate_limit=TEST_RATE)
    copy = Portal.seeded(
        "demo", member_id="emu-member-2", domain="copy.bitrix24.test", rate_limit=TEST_RATE
    )
    zoya = seed(original)
    assert seed(copy) == zoya
    with EmuServer(original) as first, EmuServer(copy) as second:
        a = connect(original, first, a_file)
        b = connect(copy, second, b_file)
        # one backfill settles the deals in the order they were won, each by its contacts'
        # complete history as of its close: a second one changes nothing
        again = kopilka("sync", "--all", "--portal", b)
        assert re.search(r"\b0 postings", again), again
        report = json.loads(kopilka("program", "whatif", str(b_file), "--portal", a, "--json"))
        shown = {
            int(c["ID"]): c.get("UF_CRM_KOP_LEVEL")
            for c in call(copy, "crm.contact.list", {"select": ["ID", "UF_CRM_KOP_LEVEL"]})
        }

    assert report["deals"] == DEALS + 3
    assert (report["replayed"], report["not_replayable"]) == (DEALS + 3, 0)
    lines = {c["contact_id"]: c for c in report["contacts"]}
    assert set(lines) == set(range(min(lines), min(lines) + CONTACTS + 1))
    for contact, line in lines.items():
        # what it earned is what the original's ledger holds; what it would have earned is what
        # the copy's ledger holds after syncing the same deals under B
        assert line["earned"] == points(a, contact), contact
        assert line["would_earn"] == points(b, contact), contact
    # B really is another program: many customers get other points and other levels
    assert sum(1 for c in lines.values() if c["difference"]) > CONTACTS // 2
    assert report["level_changes"] > 0
    titles = {"base": "Базовый", "gold": "Золотой", "vip": "VIP"}
    assert Counter(titles[c["level_would"]] for c in lines.values()) == Counter(
        shown[c] for c in lines
    )
    assert report["difference"] == report["would_earn"] - report["earned"]
    assert report["liability_added"] == report["difference"]  # nothing expires in A or B

    # The absolute oracle, by hand. Under A (deals counted, current one included, repair and
    # tuning only): 3 % of 25 000, nothing of the goods, 3 % of 2 500 = 750 + 0 + 75.
    # Under B (purchases before the deal; goods count): 2 % of 25 000 with nothing bought
    # before; then 28 200 bought → 4 % of 7 990 = 319.6, rounded down; 4 % of 2 500.
    assert (lines[zoya]["earned"], lines[zoya]["would_earn"]) == (825_00, (500 + 319 + 100) * 100)
    assert (lines[zoya]["level_now"], lines[zoya]["level_would"]) == ("silver", "gold")
