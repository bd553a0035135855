"""``/admin/reports`` over HTTP: only for a logged-in admin, a typed range read in the program's
time zone, a bad one refused with its reason, each report downloadable as CSV and XLSX."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.reports.site import reports_site

pytestmark = pytest.mark.timeout(120)
RANGE = "from=2026-01-01&to=2026-04-30"


async def test_reports_need_the_admins_login(committed_engine: AsyncEngine) -> None:
    async with reports_site(committed_engine) as site:
        async with httpx.AsyncClient(
            base_url=site.url, cookies={"kop_admin": "forged"}
        ) as stranger:
            for path in ("/admin/reports", f"/admin/reports/flows.csv?{RANGE}"):
                answer = await stranger.get(path)
                assert answer.status_code == 303
                assert answer.headers["location"] == "/admin/login"
                assert "Итого" not in answer.text


async def test_the_page_the_range_and_the_downloads(committed_engine: AsyncEngine) -> None:
    async with reports_site(committed_engine) as site, site.admin() as admin:
        page = await admin.get(f"/admin/reports?{RANGE}")
        assert page.status_code == 200
        html = page.text
        assert html.count('<svg class="chart"') == 4  # liability, flows, expiring, levels
        assert 'id="closing">2\u00a0000<' in html
        assert 'id="breakage">60.9 %<' in html

        default = await admin.get("/admin/reports")  # the last twelve months to today (NOW)
        assert 'name="from" id="from" value="2025-06-01"' in default.text
        assert 'name="to" id="to" value="2026-05-10"' in default.text

        bad = await admin.get("/admin/reports?from=2026-04-30&to=2026-01-01")
        assert bad.status_code == 400
        assert "Неверный период: the range ends before it starts" in bad.text
        typo = await admin.get("/admin/reports/flows.csv?from=01.01.2026")
        assert typo.status_code == 400
        assert (await admin.get(f"/admin/reports/secrets.csv?{RANGE}")).status_code == 404

        got = await admin.get(f"/admin/reports/flows.csv?{RANGE}&lang=en")
        assert got.headers["content-type"].startswith("text/csv")
        assert "kopilka-flows-2026-01-01-2026-04-30.csv" in got.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
        assert rows[0] == ["Period", "Accrued", "Reversed", "Redeemed", "Expired", "Net change"]
        assert rows[-1] == ["Total", "3150.00", "1000.00", "450.00", "700.00", "1000.00"]

        got = await admin.get(f"/admin/reports/liability.xlsx?{RANGE}")
        sheet = load_workbook(io.BytesIO(got.content))["liability"]
        assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
            1000,
            1400,
            2200,
            950,
            2000,
        ]
