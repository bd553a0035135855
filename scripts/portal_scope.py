"""Which of Kopilka's SQL statements are not scoped to one portal (docs/scale.md).

Reads the statement log the test suite writes when ``KOPILKA_SQL_LOG`` names a file
(``tests/sqllog.py``) and sorts every statement that Kopilka's own code (``src/kopilka``, not the
migrations, not the tests) sent into:

* ``portal``: it names a portal — a ``portal_id`` predicate (``=``, ``IN``, ``= ANY``) or, for an
  insert, a ``portal_id`` column — so a database sharded by portal can route it to one shard;
* ``key``: it reaches its rows through the key of one portal's row (``WHERE id = …``, a lot by its
  account, the entries of a transaction) but does not name the portal: one portal's data, yet a
  sharded database would have to look in every shard unless ``portal_id`` is added;
* ``global``: neither — it reads or writes across portals (the job queue, maintenance sweeps);
* ``none``: it touches no table (``SELECT now()``, advisory locks, ``SET``).

Usage::

    KOPILKA_SQL_LOG=var/sql.jsonl .venv/bin/pytest tests/integration tests/e2e
    .venv/bin/python scripts/portal_scope.py var/sql.jsonl            # a summary and the lists
    .venv/bin/python scripts/portal_scope.py var/sql.jsonl --markdown # tables for docs/scale.md

The classification is textual (regular expressions over the SQL that SQLAlchemy rendered), so
each ``key`` and ``global`` statement is meant to be read by a person; docs/scale.md does.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from kopilka.db.tables import metadata  # noqa: E402

#: Tables created by migrations without a SQLAlchemy description.
EXTRA_TABLES = {"api_keys": True}
PROCRASTINATE = re.compile(r"\bprocrastinate_\w+")
_TABLE_REF = re.compile(
    r"\b(?:FROM|JOIN|UPDATE|INTO|DELETE\s+FROM)\s+(?:ONLY\s+)?\"?([a-z_][a-z0-9_]*)\"?",
    re.IGNORECASE,
)
#: ``portal_id`` compared with a bound value or a literal (a join ``a.portal_id = b.portal_id``
#: alone scopes nothing); ``args->>'portal_id'`` is the job queue's way of naming a portal.
_PORTAL_PREDICATE = re.compile(
    r"(?:\b(?:b24_)?portal_id|->>\s*'portal_id')\s*(?:=|IN\s*\(|=\s*ANY\s*\()\s*"
    r"(?:CAST\s*\()?(?:%\(|'|[0-9])",
    re.IGNORECASE,
)
_INSERT_COLUMNS = re.compile(r"\bINSERT\s+INTO\s+\"?\w+\"?\s*\(([^)]*)\)", re.IGNORECASE)
#: A key column compared with a bound value (``%(x)s``) or a literal: the statement starts from
#: given rows. A comparison with another column (a join) does not count.
_KEY_PREDICATE = re.compile(
    r"\b(?:\w+\.)?(id|\w+_id|order_pk|token_hash|key_hash|prefix|serial|library_id|member_id|"
    r"login|class_id|object_id|request_key|queueing_lock|lock)\s*(?:=|IN\s*\(|=\s*ANY\s*\()\s*"
    r"(?:CAST\s*\()?(?:%\(|'|[0-9]|NULL\))",
    re.IGNORECASE,
)
#: ``INSERT … SELECT * FROM unnest(%(a)s, …)``: rows given by the caller, like ``VALUES``.
_INSERT_GIVEN = re.compile(
    r"\bINSERT\s+INTO\s+\S+\s*\([^)]*\)\s*(?:VALUES|SELECT \* FROM unnest\(CAST\(%\()",
    re.IGNORECASE,
)


def portal_tables() -> dict[str, bool]:
    """Every table Kopilka owns, and whether it has a ``portal_id`` column."""
    tables = {name: "portal_id" in t.c for name, t in metadata.tables.items()}
    tables.update(EXTRA_TABLES)
    return tables


@dataclass
class Statement:
    sql: str
    count: int
    sites: list[str]
    test: str
    tables: list[str] = field(default_factory=list)
    scope: str = ""


#: Not a sender: a lambda handed to it (a test's, in logs written before tests/sqllog.py looked
#: past it) leaves no frame of its own.
_NOT_SENDERS = ("kopilka.db.migrations", "kopilka.db.engine:run_in_transaction")


def product_sites(sites: list[str]) -> list[str]:
    return [s for s in sites if s and not s.startswith(_NOT_SENDERS)]


def classify(sql: str, known: dict[str, bool]) -> tuple[str, list[str]]:
    names = {m.group(1).lower() for m in _TABLE_REF.finditer(sql)}
    tables = sorted(n for n in names if n in known)
    tables += sorted(set(PROCRASTINATE.findall(sql)) - set(tables))
    if not tables:
        return "none", tables
    if _PORTAL_PREDICATE.search(sql):
        return "portal", tables
    insert = _INSERT_COLUMNS.search(sql)
    if insert and re.search(r"\bportal_id\b", insert.group(1)):
        return "portal", tables
    if _KEY_PREDICATE.search(sql) or _INSERT_GIVEN.search(sql):
        return "key", tables
    return "global", tables


_PARAM = r"%\(\w+\)s(?:::\w+(?:\[\])?)?"
_PARAM_LIST = re.compile(rf"\(\s*{_PARAM}(?:\s*,\s*{_PARAM})*\s*\)|\(NULL\) AND \(1 != 1\)")


def normalise(sql: str) -> str:
    """One form for the statements that differ only in how many values an ``IN`` list got."""
    sql = _PARAM_LIST.sub("(%(list)s)", sql)
    return re.sub(r"%\((\w+?)(?:_\d+)+\)s", r"%(\1)s", sql)


def load(paths: list[Path]) -> list[Statement]:
    merged: dict[str, Statement] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["sql"] = normalise(row["sql"])
            sites = product_sites(row.get("sites", []))
            if not sites:
                continue  # the tests' own statements and the migrations
            found = merged.get(row["sql"])
            if found is None:
                merged[row["sql"]] = Statement(row["sql"], row["count"], sites, row["test"])
            else:
                found.count += row["count"]
                found.sites = sorted(set(found.sites) | set(sites))
    known = portal_tables()
    for statement in merged.values():
        statement.scope, statement.tables = classify(statement.sql, known)
    return sorted(merged.values(), key=lambda s: (s.scope, s.sites, s.sql))


def short(sql: str, width: int = 160) -> str:
    sql = re.sub(r"%\((\w+?)(?:_\d+)*\)s(?:::\w+(?:\[\])?)?", ":", sql)
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def report(statements: list[Statement], markdown: bool) -> None:
    known = portal_tables()
    by_scope: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        by_scope[s.scope].append(s)
    print(f"{len(statements)} distinct statements from src/kopilka:")
    for scope in ("portal", "key", "global", "none"):
        print(f"  {scope:7} {len(by_scope[scope])}")
    no_portal = sorted(n for n, has in known.items() if not has)
    print(f"tables without portal_id ({len(no_portal)}): {', '.join(no_portal)}")
    if markdown:  # the reached-by-key statements grouped by table: the list is long
        grouped: dict[str, set[str]] = defaultdict(set)
        counted: dict[str, int] = defaultdict(int)
        for s in by_scope["key"]:
            grouped[", ".join(s.tables)].update(s.sites)
            counted[", ".join(s.tables)] += 1
        print(f"\n## key, by table ({len(by_scope['key'])})\n")
        print("| tables | statements | sent by |\n|---|---|---|")
        for tables in sorted(grouped):
            sites = ", ".join(f"`{x.removeprefix('kopilka.')}`" for x in sorted(grouped[tables]))
            print(f"| {tables} | {counted[tables]} | {sites} |")
    for scope in ("global", "key"):
        print(f"\n## {scope} ({len(by_scope[scope])})\n")
        if markdown:
            print("| # | sent by | tables | statement |\n|---|---|---|---|")
        for i, s in enumerate(by_scope[scope], 1):
            sites = ", ".join(f"`{x}`" if markdown else x for x in s.sites)
            text = short(s.sql).replace("|", "\\|")
            if markdown:
                print(f"| {i} | {sites} | {', '.join(s.tables)} | `{text}` |")
            else:
                print(f"{i:3}. {sites}\n     [{', '.join(s.tables)}] {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path, help="KOPILKA_SQL_LOG files")
    parser.add_argument("--markdown", action="store_true", help="tables for docs/scale.md")
    args = parser.parse_args()
    report(load(args.logs), args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
