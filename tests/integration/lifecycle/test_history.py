"""A program's history is the database's to keep: append-only, one lineage per portal, and
applying a version twice records it once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.errors import InvalidCommand
from kopilka.ledger.book import ensure_portal
from kopilka.lifecycle.queries import activations
from kopilka.lifecycle.service import active_program, apply_program
from kopilka.program.loader import parse_program

EXAMPLE = Path(__file__).parents[3] / "examples" / "retail-wholesale.yaml"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def versions() -> tuple:  # type: ignore[type-arg]
    source = EXAMPLE.read_text(encoding="utf-8")
    other = source.replace("percent: 5", "percent: 7", 1)
    return (parse_program(source, "a.yaml"), source), (parse_program(other, "b.yaml"), other)


async def test_history_is_append_only(db: AsyncConnection) -> None:
    (a, a_src), (b, b_src) = versions()
    portal = await ensure_portal(db, "lifecycle-1")
    first = await apply_program(db, portal, a, a_src, actor="t", now=NOW)
    again = await apply_program(db, portal, a, a_src, actor="t", now=NOW + timedelta(hours=1))
    assert (first.changed, again.changed) == (True, False)  # the same version: nothing recorded
    await apply_program(db, portal, b, b_src, actor="t", now=NOW + timedelta(hours=2))
    assert [x.hash for x in await activations(db, portal)] == [a.hash, b.hash]
    _book, at_noon = await active_program(db, portal, NOW + timedelta(minutes=30))
    _book, later = await active_program(db, portal, NOW + timedelta(hours=3))
    assert (at_noon.hash, later.hash) == (a.hash, b.hash)
    for statement in (
        "UPDATE program_activations SET active_from = now()",
        "DELETE FROM program_activations",
        "UPDATE program_versions SET source = ''",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(text(statement))


async def test_one_lineage_per_portal_and_no_past(db: AsyncConnection) -> None:
    (a, a_src), _ = versions()
    portal = await ensure_portal(db, "lifecycle-2")
    await apply_program(db, portal, a, a_src, actor="t", now=NOW)
    with pytest.raises(InvalidCommand, match="in the past"):
        await apply_program(
            db, portal, a, a_src, actor="t", now=NOW, active_from=NOW - timedelta(days=1)
        )
    with pytest.raises(DBAPIError, match="programs_one_lineage"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "INSERT INTO programs (portal_id, code, title, timezone)"
                    " VALUES (:p, 'second', '', 'UTC')"
                ),
                {"p": portal},
            )
