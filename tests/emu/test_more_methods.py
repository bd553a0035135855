"""Lists, catalog, notifications, timeline, activities, seeds and ``python -m b24emu``."""

from __future__ import annotations

import io
import re
import threading
from contextlib import redirect_stdout

import httpx

from b24emu import EmuServer, Portal
from b24emu.__main__ import main


def test_lists_elements(portal: Portal, hook: str, http: httpx.Client) -> None:
    base = {"IBLOCK_TYPE_ID": "lists"}
    iblock_id = http.post(
        hook + "lists.add", json={**base, "IBLOCK_CODE": "bonus_tx", "FIELDS": {"NAME": "Бонусы"}}
    ).json()["result"]
    amount = http.post(
        hook + "lists.field.add",
        json={**base, "IBLOCK_ID": iblock_id, "FIELDS": {"NAME": "Сумма", "TYPE": "N"}},
    ).json()["result"]
    when = http.post(
        hook + "lists.field.add",
        json={
            **base,
            "IBLOCK_CODE": "bonus_tx",
            "FIELDS": {"NAME": "Дата", "TYPE": "S:Date", "CODE": "WHEN"},
        },
    ).json()["result"]
    assert re.fullmatch(r"PROPERTY_\d+", amount)
    element = {
        **base,
        "IBLOCK_ID": iblock_id,
        "ELEMENT_CODE": "tx-1",
        "FIELDS": {"NAME": "Начисление", amount: "150", when: "2024-12-31"},
    }
    element_id = http.post(hook + "lists.element.add", json=element).json()["result"]
    again = http.post(hook + "lists.element.add", json=element).json()
    assert again["error"] == "ERROR_ELEMENT_ALREADY_EXISTS"
    got = http.post(
        hook + "lists.element.get", json={**base, "IBLOCK_ID": iblock_id, "ELEMENT_CODE": "tx-1"}
    ).json()
    assert got["total"] == 1
    row = got["result"][0]
    assert (row["ID"], row["CODE"], row["NAME"]) == (str(element_id), "tx-1", "Начисление")
    assert list(row[amount].values()) == ["150"]  # objects keyed by value ID, not arrays
    assert list(row[when].values()) == ["31.12.2024"]  # display format, not ISO
    http.post(
        hook + "lists.element.update",
        json={
            **base,
            "IBLOCK_ID": iblock_id,
            "ELEMENT_ID": element_id,
            "FIELDS": {"NAME": "Новое"},
        },
    )
    updated = http.post(hook + "lists.element.get", json={**base, "IBLOCK_ID": iblock_id}).json()
    assert updated["result"][0]["NAME"] == "Новое"
    assert amount not in updated["result"][0]  # update overwrites: missing values are cleared
    missing = http.post(hook + "lists.element.get", json={**base, "IBLOCK_ID": 999}).json()
    assert missing["error"] == "ERROR_IBLOCK_NOT_FOUND"
    listed = http.post(hook + "lists.get", json=base).json()["result"]
    assert listed[0]["CODE"] == "bonus_tx"


def test_notifications_timeline_and_todo(portal: Portal, hook: str, http: httpx.Client) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "A"}})
    first = http.post(
        hook + "im.notify.system.add", json={"USER_ID": 1, "MESSAGE": "Gold", "TAG": "loyalty|1"}
    ).json()["result"]
    second = http.post(
        hook + "im.notify.personal.add", json={"USER_ID": 2, "MESSAGE": "Hi", "TAG": "loyalty|1"}
    ).json()["result"]
    assert isinstance(first, int)
    assert [n["ID"] for n in portal.notifications] == [second]  # same TAG replaces
    empty = http.post(hook + "im.notify.system.add", json={"USER_ID": 1}).json()
    assert empty["error"] == "MESSAGE_EMPTY"
    comment = http.post(
        hook + "crm.timeline.comment.add",
        json={"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "contact", "COMMENT": "+150 баллов"}},
    ).json()["result"]
    upper = http.post(
        hook + "crm.timeline.comment.add",
        json={"FIELDS": {"ENTITY_ID": 1, "ENTITY_TYPE": "contact", "COMMENT": "x"}},
    ).json()
    assert upper["error_description"] == "Parameter 'fields' must be array."
    assert portal.comments_for("contact", 1)[0]["COMMENT"] == "+150 баллов"
    listed = http.post(
        hook + "crm.timeline.comment.list",
        json={"filter": {"ENTITY_ID": 1, "ENTITY_TYPE": "contact"}},
    ).json()
    assert listed["result"][0]["ID"] == str(comment)
    deal_id = portal.call("crm.deal.add", {"fields": {}})["result"]
    todo = http.post(
        hook + "crm.activity.todo.add",
        json={
            "ownerTypeId": 2,
            "ownerId": deal_id,
            "deadline": "2030-02-03T15:00:00+03:00",
            "title": "Позвонить",
        },
    ).json()
    assert todo["result"] == {"id": 1}
    no_deadline = http.post(
        hook + "crm.activity.todo.add", json={"ownerTypeId": 2, "ownerId": deal_id}
    ).json()
    assert no_deadline["error"] == 100


def test_demo_seed_and_catalog(http: httpx.Client) -> None:
    portal = Portal.seeded("demo")
    with EmuServer(portal):
        hook = portal.add_webhook(scopes=("crm", "catalog"))
        anna = portal.call(
            "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+79161234567"]}
        )["result"]
        assert anna == {"CONTACT": [1]}
        assert portal.contacts[1]["UF_CRM_CONTACT_CLASS"] == "44"
        assert portal.contacts[2]["TYPE_ID"] == "1"
        assert portal.companies[int(portal.contacts[2]["COMPANY_ID"])]["TITLE"] == "ООО Ромашка"
        stages = http.post(
            hook + "crm.status.list", json={"filter": {"ENTITY_ID": "DEAL_STAGE_1"}}
        ).json()["result"]
        assert next(s["STATUS_ID"] for s in stages) == "C1:NEW"
        assert {s["SEMANTICS"] for s in stages} == {None, "S", "F"}
        deal_id = portal.call("crm.deal.add", {"fields": {"CATEGORY_ID": 1}})["result"]
        assert portal.deals[deal_id]["STAGE_ID"] == "C1:NEW"
        product = http.post(hook + "crm.product.get", json={"id": 4}).json()["result"]
        section = http.post(
            hook + "catalog.section.get", json={"id": product["SECTION_ID"]}
        ).json()["result"]["section"]
        assert section["name"] == "Тюнинг"
        products = http.post(
            hook + "catalog.product.list",
            json={"select": ["id", "iblockId", "iblockSectionId"], "filter": {"iblockId": 25}},
        ).json()
        assert products["total"] == len(portal.products)
        assert products["result"]["products"][3] == {"id": 4, "iblockId": 25, "iblockSectionId": 2}
        no_iblock = http.post(hook + "catalog.product.list", json={"select": ["id"]}).json()
        assert no_iblock["error"] == 0
        empty = Portal.seeded("empty")
        assert empty.contacts == {}
        assert empty.deal_categories[0]["isDefault"] == "Y"


def test_standalone_main() -> None:
    stop = threading.Event()
    output = io.StringIO()
    with redirect_stdout(output):
        thread = threading.Thread(target=main, args=(["--port", "0", "--seed", "demo"], stop))
        thread.start()
        for _ in range(200):
            if "Ctrl+C" in output.getvalue():
                break
            threading.Event().wait(0.02)
        stop.set()
        thread.join(10)
    url = re.search(r"incoming webhook: (\S+)", output.getvalue())
    assert url is not None
    assert url.group(1).startswith("http://127.0.0.1:")
    assert url.group(1).endswith("/rest/1/emuwebhookcode01/")
