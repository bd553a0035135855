"""Provisioning finds the fields a portal already has, however many it has."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.provision import provision
from kopilka.process.devstack import emulated_portal, example
from kopilka.program.loader import load_program
from tests.b24harness import kopilka_on_emulator


async def test_provision_twice_in_a_portal_with_more_fields_than_a_page(
    committed_engine: AsyncEngine,
) -> None:
    portal = emulated_portal()
    for n in range(60):  # the integrator's own fields: more than one 50-row page
        portal.call(
            "crm.contact.userfield.add",
            {"fields": {"FIELD_NAME": f"OTHER_{n}", "USER_TYPE_ID": "string"}},
        )
    # Kopilka's balance field made by hand earlier, after them: on the second page
    portal.call(
        "crm.contact.userfield.add",
        {"fields": {"FIELD_NAME": "KOP_BALANCE", "USER_TYPE_ID": "double"}},
    )
    async with kopilka_on_emulator(committed_engine, portal=portal, worker=False) as h:
        client = h.services.client_for(h.connection)
        program = load_program(example("retail-wholesale.yaml")[0])
        again = await provision(client, h.connection, program, h.web_url + "/b24/events")
        names = [
            f["FIELD_NAME"]
            for f in portal.call("crm.contact.userfield.list", {"start": 0})["result"]
            + portal.call("crm.contact.userfield.list", {"start": 50})["result"]
        ]
    assert names.count("UF_CRM_KOP_BALANCE") == 1
    assert "UF_CRM_KOP_BALANCE" in again.existing
    assert not again.created  # the second run finds everything
