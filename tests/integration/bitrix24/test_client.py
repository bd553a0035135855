"""The REST client against the b24emu portal over real HTTP on loopback: envelopes, errors,
secrets, batch and keyset lists."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from b24emu import EmuServer, Portal
from kopilka.bitrix24 import errors as e
from kopilka.bitrix24.auth import WebhookAuth
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.limiter import MemoryRateLimiter


def fast_limiter() -> MemoryRateLimiter:
    return MemoryRateLimiter(interval=0.001, burst=1000)


@pytest.fixture
async def b24(hook: str) -> Any:
    async with Bitrix24Client(WebhookAuth(hook), limiter=fast_limiter(), backoff=0.01) as client:
        yield client


def add_contacts(portal: Portal, n: int) -> list[int]:
    return [
        portal.call("crm.contact.add", {"fields": {"NAME": f"Контакт {i}"}})["result"]
        for i in range(n)
    ]


async def test_call_returns_result_and_envelope(b24: Bitrix24Client, portal: Portal) -> None:
    contact_id = await b24.call("crm.contact.add", {"fields": {"NAME": "Иван"}}, write=True)
    assert isinstance(contact_id, int)  # *.add answers an integer (reference §14.1)
    contact = await b24.call("crm.contact.get", {"id": contact_id})
    assert contact["NAME"] == "Иван"
    assert contact["ID"] == str(contact_id)  # legacy string numbers
    add_contacts(portal, 60)
    env = await b24.call_envelope("crm.contact.list", {"select": ["ID"]})
    assert len(env.result) == 50
    assert env.total == 61
    assert env.next == 50
    assert env.time["finish"] >= env.time["start"]
    assert b24.requests == 3
    assert b24.commands == 3


async def test_decimals_and_dates_travel_as_strings(b24: Bitrix24Client) -> None:
    fields = {"TITLE": "x", "OPPORTUNITY": Decimal("1500.50"), "BEGINDATE": date(2024, 1, 31)}
    deal_id = await b24.call("crm.deal.add", {"fields": fields}, write=True)
    deal = await b24.call("crm.deal.get", {"id": deal_id})
    assert deal["OPPORTUNITY"] == "1500.50"
    assert deal["BEGINDATE"].startswith("2024-01-31")
    with pytest.raises(TypeError, match="object"):
        await b24.call("crm.deal.list", {"filter": {"ID": object()}})


async def test_errors_over_the_wire(b24: Bitrix24Client, portal: Portal, server: EmuServer) -> None:
    with pytest.raises(e.B24MethodNotFound) as method_missing:
        await b24.call("crm.nothing.here")
    assert method_missing.value.status == 404
    with pytest.raises(e.B24NotFound) as missing:
        await b24.call("crm.deal.get", {"id": 999})
    assert missing.value.b24_error == ""
    assert missing.value.status == 400
    with pytest.raises(e.B24BadRequest):
        await b24.call("crm.deal.get", {"id": 0})
    # a webhook with the wrong code, and one without the crm scope
    wrong = WebhookAuth(f"{server.url}/rest/1/not-the-code/")
    async with Bitrix24Client(wrong, limiter=fast_limiter()) as client:
        with pytest.raises(e.B24InvalidCredentials):
            await client.call("crm.deal.list")
    narrow = WebhookAuth(portal.add_webhook(user_id=1, scopes=("user",)))
    async with Bitrix24Client(narrow, limiter=fast_limiter()) as client:
        with pytest.raises(e.B24InsufficientScope):
            await client.call("crm.deal.list")
        assert b24.retries_other == 0


async def test_webhooks_are_refused_app_only_methods(b24: Bitrix24Client) -> None:
    with pytest.raises(e.B24WrongAuthType) as refused:
        await b24.call("event.bind", {"event": "ONCRMDEALUPDATE", "handler": "http://x/"})
    assert refused.value.status in (401, 403)


async def test_no_secret_in_messages_logs_or_reprs(
    hook: str, server: EmuServer, caplog: pytest.LogCaptureFixture
) -> None:
    code = hook.rstrip("/").rsplit("/", 1)[1]
    caplog.set_level(logging.DEBUG)  # every logger, httpx's request lines included
    auth = WebhookAuth(hook)
    messages: list[str] = []
    async with Bitrix24Client(auth, limiter=fast_limiter(), max_retries=1) as client:
        await client.call("crm.contact.list")
        for method in ("crm.deal.get", "crm.nothing"):
            with pytest.raises(e.B24Error) as caught:
                await client.call(method, {"id": 999})
            messages += [str(caught.value), repr(caught.value), caught.value.description]
        messages += [repr(client), repr(auth), str(auth.__dict__.get("domain"))]
    dead = WebhookAuth(f"http://127.0.0.1:9/rest/1/{code}/")  # nothing listens on port 9
    async with Bitrix24Client(dead, limiter=fast_limiter(), max_retries=0) as client:
        with pytest.raises(e.B24TransportError) as transport:
            await client.call("crm.deal.list")
    messages += [str(transport.value), repr(transport.value)]
    assert transport.value.__cause__ is None  # httpx's exception (with the URL) is not chained
    assert "crm.deal.list.json" in caplog.text or "crm.contact.list" in caplog.text
    for text in [*messages, caplog.text]:
        assert code not in text


async def test_batch_returns_results_by_key(b24: Bitrix24Client, portal: Portal) -> None:
    ids = add_contacts(portal, 3)
    results = await b24.batch(
        {
            "one": ("crm.contact.get", {"id": ids[0]}),
            "some": ("crm.contact.list", {"filter": {"@ID": ids[1:]}, "select": ["ID", "NAME"]}),
            "new": ("crm.contact.add", {"fields": {"NAME": "Пётр", "PHONE": []}}),
        },
        write=True,
    )
    assert results["one"]["ID"] == str(ids[0])
    assert [c["ID"] for c in results["some"]] == [str(i) for i in ids[1:]]
    assert isinstance(results["new"], int)
    assert b24.requests == 1
    assert b24.commands == 3


async def test_batch_with_failures_raises_with_the_partial_results(
    b24: Bitrix24Client, portal: Portal
) -> None:
    ids = add_contacts(portal, 2)
    commands = {
        "a": ("crm.contact.get", {"id": ids[0]}),
        "gone": ("crm.contact.get", {"id": 999}),
        "b": ("crm.contact.get", {"id": ids[1]}),
    }
    with pytest.raises(e.B24BatchError) as caught:
        await b24.batch(commands)
    assert set(caught.value.results) == {"a", "b"}
    assert caught.value.results["b"]["ID"] == str(ids[1])
    assert isinstance(caught.value.errors["gone"], e.B24NotFound)
    assert caught.value.errors["gone"].method == "crm.contact.get"
    assert caught.value.not_run == ()
    with pytest.raises(e.B24BatchError) as halted:
        await b24.batch(commands, halt=True)
    assert set(halted.value.results) == {"a"}
    assert set(halted.value.errors) == {"gone"}
    assert halted.value.not_run == ("b",)


async def test_batch_limits_and_envelopes(b24: Bitrix24Client, portal: Portal) -> None:
    too_many = {f"k{i}": ("crm.contact.list", {}) for i in range(51)}
    with pytest.raises(ValueError, match="at most 50"):
        await b24.batch(too_many)
    assert b24.requests == 0
    assert await b24.batch({}) == {}
    with pytest.raises(ValueError, match="method name"):
        await b24.batch({"x": ("crm.deal.list?evil=1", {})})
    add_contacts(portal, 70)
    envs = await b24.batch_envelopes(
        {
            "first": ("crm.contact.list", {"select": ["ID"]}),
            "second": ("crm.contact.list", {"select": ["ID"], "start": 50}),
        }
    )
    assert (envs["first"].total, envs["first"].next) == (70, 50)
    assert (len(envs["second"].result), envs["second"].next) == (20, None)


async def test_batch_many_chunks_by_fifty(b24: Bitrix24Client, portal: Portal) -> None:
    ids = add_contacts(portal, 120)
    commands = {f"c{i}": ("crm.contact.get", {"id": i}) for i in ids}
    results = await b24.batch_many(commands)
    assert len(results) == 120
    assert b24.requests == 3
    assert b24.commands == 120
    commands["c999"] = ("crm.contact.get", {"id": 999})
    with pytest.raises(e.B24BatchError) as caught:
        await b24.batch_many(commands)
    assert len(caught.value.results) == 120
    assert list(caught.value.errors) == ["c999"]


async def test_list_all_walks_by_key_without_counting(b24: Bitrix24Client, portal: Portal) -> None:
    ids = add_contacts(portal, 125)
    portal.call("crm.contact.delete", {"id": ids[60]})  # a gap in the IDs
    seen = [c async for c in b24.list_all("crm.contact.list", {"select": ["NAME"]})]
    assert [int(c["ID"]) for c in seen] == [i for i in ids if i != ids[60]]
    assert set(seen[0]) == {"ID", "NAME"}  # the ID was added to the caller's select
    assert b24.requests == 3  # 50 + 50 + 24: a short page ends the walk
    filtered = [
        c async for c in b24.list_all("crm.contact.list", {"filter": {">ID": 0, "NAME": "x"}})
    ]
    assert filtered == []


async def test_list_all_over_crm_item_list(b24: Bitrix24Client, portal: Portal) -> None:
    for i in range(55):
        portal.call("crm.deal.add", {"fields": {"TITLE": f"Сделка {i}"}})
    items = [
        item
        async for item in b24.list_all(
            "crm.item.list",
            {"entityTypeId": 2, "select": ["id", "title"]},
            id_key="id",
            result_key="items",
        )
    ]
    assert len(items) == 55
    assert items[0]["title"] == "Сделка 0"
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
