"""Seeding a benchmark's books with SQL, shared by ``bench.expiry``, ``bench.reports`` and
``bench.growth``.

A row trigger per ledger entry would make a million entries take minutes, so the seeds write
with the triggers off (``session_replication_role = replica``) and write what the triggers would
have written themselves: a lot's remainder is its amount less the legs that drew on it, an
account's balance the sum of its legs, every transaction's legs net to zero. Rows get explicit
ids above the tables' current maximum (``id_bases``) so one statement can refer to another's
rows by arithmetic; the sequences are moved past them afterwards (``resync_sequences``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.ledger import book as books
from kopilka.ledger.types import Book

#: the tables a seed gives explicit ids
LEDGER_TABLES = ("customers", "accounts", "ledger_transactions", "lots", "ledger_entries")


async def id_bases(conn: AsyncConnection, tables: Iterable[str] = LEDGER_TABLES) -> dict[str, int]:
    """Each table's largest id now: a seed's rows are numbered from there."""
    return {
        t: int(await conn.scalar(text(f"SELECT COALESCE(max(id), 0) FROM {t}")))  # noqa: S608
        for t in tables
    }


async def run_untriggered(
    conn: AsyncConnection, statements: Iterable[str], params: Mapping[str, Any]
) -> None:
    """The statements in the caller's transaction with the ledger's triggers off (for this
    transaction only): the statements write what the triggers would have."""
    await conn.execute(text("SET LOCAL session_replication_role = replica"))
    for statement in statements:
        await conn.execute(text(statement), dict(params))


async def resync_sequences(conn: AsyncConnection, tables: Iterable[str] = LEDGER_TABLES) -> None:
    """Move each table's id sequence past the ids a seed wrote explicitly."""
    for table in tables:
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT GREATEST(max(id), 1) FROM {table}))"
            )
        )


async def vacuum_analyze(engine: AsyncEngine, tables: Iterable[str] = ()) -> None:
    """``VACUUM ANALYZE`` (of ``tables``, or the whole database): fresh statistics and a
    visibility map, as a database that has been running for a while has."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        names = list(tables)
        for table in names or [""]:
            await conn.execute(text(f"VACUUM ANALYZE {table}"))


async def system_account(conn: AsyncConnection, book: Book, kind: str) -> int:
    """The id of the program's ``issued``, ``redeemed`` or ``expired`` account (made if new)."""
    found = await books.accounts(conn, book, [], [])
    return found[(kind, None)].id
