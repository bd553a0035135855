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


def test_the_demo_plays_s1_and_the_year_end_reset(empty_db: str) -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output.replace("\u00a0", " "))
    for expected in (
        "+500 бонусов: 5 % (розница) от 10 000 ₽",
        "+8 000 бонусов: 8 % (опт) от 100 000 ₽",
        "Списать 4 000 бонусов из 5 000 запрошенных: не больше 40 % от заказа 10 000 ₽",
        "+300 бонусов: 5 % (розница) от 6 000 ₽",
        "сделка проиграна: резерв снят",
        "баллы сгорели: срок истёк 01.01.2027 00:00",
        "ledger invariants: all hold",
    ):
        assert expected in text, expected
    # The duplicated event and the final balances.
    assert re.search(r"the same event for deal #2 again │ Борис[^│]*│ 8 000 │ 8 000 │ no change",
                     text)
    assert re.search(r"deal #4 won again │ Анна \(розница\) │ 1 000 │ 1 300", text)
    assert re.search(r"expiry run │ Вера │ 2 000 │ 0", text)
