"""The reports page in real Chromium: the admin logs in, opens «Отчёты», picks a range and
reads the charts; the page in English; an XLSX download opens in openpyxl. Screenshots at
desktop and phone size go to var/screenshots/."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.reports.site import PASSWORD, reports_site

pytestmark = pytest.mark.timeout(180)

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_the_owner_reads_the_reports(
    committed_engine: AsyncEngine, browser: Any, shots: Path, size: str
) -> None:
    async with reports_site(committed_engine) as site:
        context = await browser.new_context(viewport=SIZES[size], locale="ru-RU")
        page = await context.new_page()
        await page.goto(f"{site.url}/admin/login")
        await page.fill("#password", PASSWORD)
        await page.click("#admin-login")
        await page.wait_for_url("**/admin/customers")
        await page.click("#nav-reports")
        await page.wait_for_url("**/admin/reports")
        await page.fill("#from", "2026-01-01")
        await page.fill("#to", "2026-04-30")
        await page.click("#show")
        await page.wait_for_url("**/admin/reports?from=2026-01-01&to=2026-04-30")

        charts = page.locator("svg.chart")
        assert await charts.count() == 4
        titles = [await charts.nth(i).locator("title").first.text_content() for i in range(4)]
        assert titles == [
            "Обязательства по баллам",
            "Движение баллов",
            "Сгорят в ближайшие дни",
            "Уровни клиентов",
        ]
        for title in titles:  # each chart is an image named by its title (aria-labelledby)
            assert await page.get_by_role("img", name=title, exact=True).count() == 1
        for i in range(4):  # drawn: each has a size on the page, and something in it
            box = await charts.nth(i).bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 60
        assert await page.locator("#liability svg polyline").count() == 1
        assert await page.locator("#flows svg rect").count() >= 4 * 4  # 4 months, 4 figures
        assert (await page.inner_text("#closing")).replace("\u00a0", " ") == "2 000"
        flows = await page.locator("#flows-table tbody tr").all_inner_texts()
        assert flows[-1].split("\t")[0] == "Итого"
        assert [c.replace("\u00a0", " ") for c in flows[-1].split("\t")[1:]] == [
            "3 150",
            "1 000",
            "450",
            "700",
            "1 000",
        ]
        expiring = await page.locator("#expiring-table tbody tr").all_inner_texts()
        assert [r.replace("\u00a0", " ").split("\t") for r in expiring] == [
            ["30 дн.", "500", "1"],
            ["60 дн.", "900", "2"],
            ["90 дн.", "1 200", "3"],
        ]
        assert "admin:ivan" in await page.inner_text("#manual-table")
        await page.screenshot(path=str(shots / f"admin-reports-{size}.png"), full_page=True)

        async with page.expect_download() as download_info:
            await page.click("#flows-xlsx")
        download = await download_info.value
        sheet = load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))["flows"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[-1] == ("Итого", 3150, 1000, 450, 700, 1000)

        await page.goto(f"{site.url}/admin/reports?from=2026-01-01&to=2026-04-30&lang=en")
        assert await page.inner_text("h1") == "Reports"
        named = page.get_by_role("img", name="Outstanding points (liability)", exact=True)
        assert await named.count() == 1
        body = await page.inner_text("main")
        for russian in ("Начислено", "Сгорело", "Итого", "дн."):
            assert russian not in body
        await page.screenshot(path=str(shots / f"admin-reports-en-{size}.png"), full_page=True)
        await context.close()
