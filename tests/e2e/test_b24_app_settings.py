"""The app page (issue 17 item 2) over real HTTP, as the portal frames it: an administrator
uploads a program file, sees its problems by line, previews a good one with the what-if over
the won deals, and applies it from a date — recorded as applied by that Bitrix24 user; an
employee who is not an administrator sees a summary and changes nothing."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.bitrix24.offline.queries import delivery_of
from kopilka.lifecycle.queries import activations
from kopilka.lifecycle.service import active_program
from kopilka.process.devstack import example
from tests.b24harness import Harness, kopilka_on_emulator
from tests.e2e.test_b24_frames import placement_form, query

pytestmark = pytest.mark.timeout(180)

_path, SOURCE = example("retail-wholesale.yaml")
RICHER = SOURCE.replace("    percent: 5\n", "    percent: 7\n")
TYPO = SOURCE.replace("    segments: [wholesale]\n", "    segments: [wholesal]\n")
TYPO_LINE = SOURCE.splitlines().index("    segments: [wholesale]") + 1


async def open_app(web: httpx.AsyncClient, h: Harness, user_id: int) -> tuple[str, str]:
    page = await web.post(
        "/b24/app", params=query(h), data=placement_form(h, user_id, "DEFAULT", 1)
    )
    assert page.status_code == 200, page.text
    sid = page.text.split('name="kopilka-session" content="')[1].split('"')[0]
    return sid, page.text


async def upload(web: httpx.AsyncClient, sid: str, text: str) -> httpx.Response:
    return await web.post(
        "/b24/app/program/check",
        data={"sid": sid, "entity": ""},
        files={"file": ("program.yaml", text.encode(), "application/x-yaml")},
    )


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert found is not None, name
    return unescape(found.group(1))


async def test_an_administrator_checks_previews_and_applies_a_program_from_a_date(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        anna = h.add_contact("Анна")
        deal = h.add_deal(anna, "10000")
        h.move(deal, "WON")
        await h.settle()
        async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as web:
            sid, page = await open_app(web, h, 1)
            assert 'id="history"' in page
            assert "kopilka devstack" in page  # who applied the version in force
            assert 'id="upload"' in page

            bad = await upload(web, sid, TYPO)
            assert bad.status_code == 422, bad.text
            problems = bad.text.split('id="problems"')[1].split("</div>")[0]
            assert f"строка {TYPO_LINE}" in problems
            assert "wholesal" in problems
            assert 'id="apply"' not in bad.text

            good = await upload(web, sid, RICHER)
            assert good.status_code == 200, good.text
            assert 'id="checked"' in good.text
            # 5 % → 7 % on Анна's 10 000: 200 points more than the 500 she earned
            assert re.search(r'id="difference">\+200<', good.text), good.text
            assert "-    percent: 5" in good.text
            assert "+    percent: 7" in good.text
            form = {k: hidden(good.text, k) for k in ("sid", "name", "hash", "source")}
            assert base64.b64decode(form["source"]).decode() == RICHER

            # Another text under the previewed hash is not applied.
            other = RICHER.replace("percent: 7", "percent: 70").encode()
            tampered = form | {"source": base64.b64encode(other).decode()}
            refused = await web.post("/b24/app/program/apply", data=tampered)
            assert refused.status_code == 400, refused.text

            applied = await web.post(
                "/b24/app/program/apply", data=form | {"active_from": "2030-01-01T00:00"}
            )
            assert applied.status_code == 200, applied.text
            assert 'id="applied"' in applied.text
            assert 'id="provisioned"' in applied.text

        async with h.engine.connect() as conn:
            found = await activations(conn, h.connection.portal_id)
            moscow = ZoneInfo("Europe/Moscow")
            _book, later = await active_program(
                conn, h.connection.portal_id, datetime(2030, 1, 2, tzinfo=moscow)
            )
            _book, now = await active_program(conn, h.connection.portal_id, h.services.now())
        assert len(found) == 2  # the tampered text was never recorded
        assert found[-1].applied_by == "b24:user:1 Иван Петров"
        assert found[-1].active_from == datetime(2030, 1, 1, tzinfo=moscow)
        assert later.hash == form["hash"]
        assert now.hash != form["hash"]  # until then, the version before


async def test_an_employee_who_is_not_an_administrator_changes_nothing(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as web:
            admin_sid, _ = await open_app(web, h, 1)
            good = await upload(web, admin_sid, RICHER)
            form = {k: hidden(good.text, k) for k in ("name", "hash", "source")}

            sid, page = await open_app(web, h, 2)  # Мария Соколова, a manager
            assert 'id="read-only"' in page
            assert 'id="upload"' not in page
            assert 'id="provision"' not in page
            assert 'id="current"' in page  # she sees which program runs
            for path in ("/b24/app/program/apply", "/b24/app/provision"):
                answer = await web.post(path, data=form | {"sid": sid})
                assert answer.status_code == 403, (path, answer.text)
                assert "administrator" in answer.text
            answer = await upload(web, sid, RICHER)
            assert answer.status_code == 403
            english = await web.post(
                "/b24/app",
                params=query(h) | {"LANG": "en"},
                data=placement_form(h, 2, "DEFAULT", 1),
            )
            assert "The settings are changed by a portal administrator." in english.text
        async with h.engine.connect() as conn:
            assert len(await activations(conn, h.connection.portal_id)) == 1


async def test_an_administrator_switches_events_offline_and_back(
    committed_engine: AsyncEngine,
) -> None:
    async with kopilka_on_emulator(committed_engine, app=True) as h:
        async with httpx.AsyncClient(base_url=h.web_url, timeout=60) as web:
            sid, page = await open_app(web, h, 1)
            assert "онлайн: Битрикс24 присылает события" in page
            answer = await web.post("/b24/app/delivery", data={"sid": sid, "mode": "offline"})
            assert answer.status_code == 200, answer.text
            assert 'id="switched"' in answer.text
            assert "офлайн: Копилка сама читает очередь портала" in answer.text
            offline = {b.event for b in h.portal.events.bindings.values() if b.offline}
            assert "ONCRMDEALUPDATE" in offline
            manager, _ = await open_app(web, h, 2)
            refused = await web.post("/b24/app/delivery", data={"sid": manager, "mode": "online"})
            assert refused.status_code == 403
            back = await web.post("/b24/app/delivery", data={"sid": sid, "mode": "online"})
            assert "онлайн: Битрикс24 присылает события" in back.text
        assert not [b for b in h.portal.events.bindings.values() if b.offline]
        async with h.engine.connect() as conn:
            assert (await delivery_of(conn, h.connection.portal_id)).mode == "online"
