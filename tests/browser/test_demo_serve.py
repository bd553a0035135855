"""``make demo`` (``kopilka demo --serve``) leaves a system a newcomer can click (issue 17 item 8):
after the story the printed addresses answer — the portal's contact card with Kopilka's tab,
the cabinet (the SMS code printed in the console), the admin (the printed password) — and
Ctrl+C stops everything, the command exiting cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import SHOTS
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).parents[2]


class Console:
    """The demo's output, read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the demo's output:\n{self.text[-3000:]}")


@pytest.fixture
def demo(pg_server: str) -> Iterator[Console]:
    name = f"kopilka_demo_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    env = {**os.environ, "KOPILKA_DATABASE_URL": url, "COLUMNS": "400", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kopilka", "demo", "--serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Console(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        drop_database(pg_server, name)


def url_of(console: Console, what: str) -> str:
    line = next(x for x in console.lines if what in x)
    return re.search(r"(http://127\.0\.0\.1:\d+/\S*)", line).group(1)  # type: ignore[union-attr]


async def test_the_demo_stays_up_to_click_and_stops_on_ctrl_c(demo: Console, browser: Any) -> None:
    demo.wait_for(r"Ctrl\+C stops everything", timeout=180)
    demo.wait_for(r"the admin .*password (\S+)", timeout=5)
    card, cabinet = url_of(demo, "the contact's card"), url_of(demo, "the customer's cabinet")
    password = re.search(r"password (\S+)", demo.text).group(1)  # type: ignore[union-attr]

    # The contact's card in the portal, Kopilka's tab open: Анна's 1 300 points.
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.goto(card)
    frame = page.frame_locator("iframe#app-frame")
    await frame.locator("#available").wait_for()
    assert (await frame.locator("#available").inner_text()).replace("\u00a0", " ") == "1 300"
    await page.screenshot(path=str(SHOTS / "demo-contact-tab.png"))

    # The cabinet: the login code arrives by SMS, printed in the console.
    web = cabinet.removesuffix("/cabinet")
    async with httpx.AsyncClient(base_url=web, follow_redirects=True) as client:
        login = await client.get("/cabinet/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        await client.post("/cabinet/login", data={"csrf": csrf, "phone": "+79161234567"})
        code = demo.wait_for(r"SMS to \+79161234567: \D*(\d{4,8})", timeout=30).group(1)
        home = await client.post(
            "/cabinet/verify", data={"csrf": csrf, "phone": "+79161234567", "code": code}
        )
        assert home.status_code == 200
        assert "1\u00a0300" in home.text or "1 300" in home.text
        admin = await client.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', admin.text).group(1)  # type: ignore[union-attr]
        signed = await client.post("/admin/login", data={"csrf": csrf, "password": password})
        assert signed.url.path == "/admin/customers"

    demo.process.send_signal(signal.SIGINT)  # Ctrl+C
    assert demo.process.wait(60) == 0
    assert "stopped" in demo.text
    with pytest.raises(httpx.HTTPError):
        httpx.get(cabinet, timeout=2)
