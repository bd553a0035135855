"""``kopilka demo`` (what ``make demo`` runs) tells the scripted story with the right numbers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from kopilka.cli import app
from kopilka.config import get_settings
from tests.conftest import create_database, drop_database


@pytest.fixture
def empty_db(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database with no schema at all: the demo migrates it itself."""
    name = f"kopilka_demo_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    monkeypatch.setenv("KOPILKA_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "240")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop_database(pg_server, name)


def test_the_demo_plays_s1_in_the_portal_and_the_year_end_reset(empty_db: str) -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output.replace("\u00a0", " "))
    for expected in (
        "Копилка: +500 бонусов: 5 % (розница) от 10 000 ₽",
        "Копилка: +8 000 бонусов: 8 % (опт) от 100 000 ₽",
        "Зарезервировано для оплаты 4 000 бонусов",
        "row price 6000, discount 4000",
        "Копилка: +300 бонусов: 5 % (розница) от 6 000 ₽",
        "Списано в оплату 4 000 бонусов",
        "Отменено 300 бонусов",
        "Резерв снят 400 бонусов",
        "баллы сгорели: срок истёк 01.01.2027 00:00",
        "ledger invariants: all hold",
    ):
        assert expected in text, expected
    # What the contact card shows after each step (UF_CRM_KOP_BALANCE).
    for step, shown in (
        (r"deal #1 10 000 ₽ won", "500"),
        (r"deal #3 90 000 ₽ won", "5000"),
        (r"deal #4 10 000 ₽: pay 5 000 with points[^│]*", "1000"),
        (r"deal #4 won", "1300"),
        (r"deal #4 back to work", "1000"),
        (r"deal #4 won again", "1300"),
        (r"deal #5 lost", "1300"),
    ):
        assert re.search(rf"{step} │ Анна \(розница\) │ {shown} │", text), step
    assert re.search(r"expiry run │ Вера │ 2 000 │ 0", text)
