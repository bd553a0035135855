"""What `kopilka check` refuses since issue 14, item 5, on a live portal: a deal user field listed
in ``fields.read.deal`` is read by the sync, so a rule on it fires (an unlisted one never would,
hence the error); and a program stored before the check existed keeps syncing."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.process.devstack import emulated_portal, kopilka_on_emulator
from kopilka.program import parse_program

pytestmark = pytest.mark.timeout(240)

PROGRAM = """\
program: by-source
title: Бонус за заказ с сайта
pipelines:
  sales: {id: 0, title: Продажи}
earn:
  - {id: base, title: Базовый кэшбэк, percent: 1}
  - id: site
    title: Бонус за заказ с сайта
    when: {expr: "has(deal.fields.UF_CRM_SOURCE) && deal.fields.UF_CRM_SOURCE == 'site'"}
    fixed: 100
fields:
  read: {deal: [UF_CRM_SOURCE]}
"""


async def test_a_rule_on_a_listed_deal_field_fires_after_the_sync(
    committed_engine: AsyncEngine,
) -> None:
    program = parse_program(PROGRAM, "by-source.yaml")
    assert program.warnings == []
    async with kopilka_on_emulator(
        committed_engine, program, PROGRAM, portal=emulated_portal("empty")
    ) as h:
        h.call(
            "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "SOURCE", "USER_TYPE_ID": "string"}}
        )
        from_site, by_phone = h.add_contact("Сайт"), h.add_contact("Звонок")
        for contact, source in ((from_site, "site"), (by_phone, "phone")):
            deal = h.add_deal(contact, "10000", fields={"UF_CRM_SOURCE": source})
            h.move(deal, "WON")
        await h.settle()
        assert (await h.balance(from_site)).available == 100_00 + 100_00  # 1 % + the bonus
        assert (await h.balance(by_phone)).available == 100_00  # 1 % only


OLD = """\
program: old
title: Принята до проверки типов
earn:
  - {id: base, title: Базовый кэшбэк, percent: 1}
  - id: exact
    title: Ровно 15 000
    when: {expr: "deal.opportunity == 15000"}
    fixed: 500
"""


async def test_a_program_stored_before_the_type_check_keeps_syncing(
    committed_engine: AsyncEngine,
) -> None:
    program = parse_program(OLD, "old.yaml", stored=True)  # as a portal's stored version
    assert [w.field for w in program.warnings] == ["earn[1].when.expr"]
    async with kopilka_on_emulator(
        committed_engine, program, OLD, portal=emulated_portal("empty")
    ) as h:
        contact = h.add_contact("Анна")
        h.move(h.add_deal(contact, "15000"), "WON")
        await h.settle()
        # 1 %; the rule that fails at run time (double == int) counts as false, as it always did
        assert (await h.balance(contact)).available == 150_00
