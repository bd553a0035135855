"""Readable terminal output for the CLI (rich tables)."""

from __future__ import annotations

import json
from datetime import datetime

from rich.console import Group
from rich.table import Table
from rich.text import Text

from kopilka.domain.money import format_points
from kopilka.ledger.queries import Explanation, HistoryLine
from kopilka.ledger.types import Balance
from kopilka.program.model import Program

KIND_RU = {
    "accrual": "начисление",
    "redemption": "списание",
    "hold": "резерв",
    "capture": "списание резерва",
    "release": "снятие резерва",
    "expiry": "сгорание",
    "reversal": "сторно",
}


def _when(moment: datetime | None, tz: object = None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def signed(minor: int) -> str:
    return ("+" if minor > 0 else "") + format_points(minor)


def balance_table(customer: str, bal: Balance, now: datetime) -> Group:
    table = Table(title=f"Customer {customer}: balance", show_header=False)
    table.add_column("what")
    table.add_column("points", justify="right")
    table.add_row("available", format_points(bal.available))
    table.add_row("pending", format_points(bal.pending))
    table.add_row("held", format_points(bal.held))
    table.add_row("total (available + pending)", format_points(bal.total))
    parts: list[Table | Text] = [table]
    if bal.expiring:
        lots = Table(title="Expiring points")
        lots.add_column("expires at")
        lots.add_column("points", justify="right")
        for lot in bal.expiring:
            lots.add_row(_when(lot.expires_at), format_points(lot.remaining))
        parts.append(lots)
    return Group(*parts)


def history_table(customer: str, lines: list[HistoryLine]) -> Table:
    table = Table(title=f"Customer {customer}: history (newest first)")
    for name in ("#", "when", "kind", "points", "held", "reason", "source"):
        table.add_column(name, justify="right" if name in ("#", "points", "held") else "left")
    for line in lines:
        kind = line.kind + (f" of #{line.reverses_id}" if line.reverses_id else "")
        table.add_row(
            str(line.transaction_id),
            _when(line.effective_at),
            kind,
            signed(line.amount) if line.amount else "",
            signed(line.held) if line.held else "",
            line.reason,
            line.source,
        )
    return table


def explain_text(ex: Explanation, applied: str = "") -> Group:
    """An entry; ``applied`` says when the version that priced it was put in force."""
    e = ex.entry
    table = Table(show_header=False, title=f"Entry #{e.id}: {e.kind} ({KIND_RU[e.kind]})")
    table.add_column("field")
    table.add_column("value")
    table.add_row("reason", e.reason)
    table.add_row("actor", e.actor)
    table.add_row("source", e.source or "—")
    table.add_row("effective at", _when(e.effective_at))
    table.add_row("posted at", _when(e.created_at))
    version = e.program_hash[:12] if e.program_hash else "—"
    table.add_row("program", f"{ex.program_code} @ version {version}{applied}")
    table.add_row("rule", e.rule_id or "—")
    if e.rule_inputs:
        table.add_row("rule inputs", json.dumps(e.rule_inputs, ensure_ascii=False, indent=1))
    table.add_row("idempotency key", e.idempotency_key)
    if e.reverses_id:
        table.add_row("reverses", f"#{e.reverses_id}")
    if ex.reversed_by:
        table.add_row("reversed by", f"#{ex.reversed_by}")
    legs = Table(title="Postings")
    for name in ("account", "customer", "lot", "amount"):
        legs.add_column(name, justify="right" if name == "amount" else "left")
    for leg in e.legs:
        legs.add_row(
            leg.account_kind, str(leg.customer_id or ""), str(leg.lot_id or ""), signed(leg.amount)
        )
    return Group(table, legs)


def program_summary(program: Program) -> Group:
    head = Text.assemble(
        ("✓ ", "bold green"),
        (f"{program.source_name}", "bold"),
        f": program '{program.program}' — {program.title}\n",
        f"  hash {program.hash[:16]}…, time zone {program.timezone}",
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column("what")
    table.add_column("how many", justify="right")
    table.add_row("segments", str(len(program.segments)))
    table.add_row("earn rules", str(len(program.earn)))
    table.add_row("levels", str(len(program.levels.tiers) if program.levels else 0))
    table.add_row("pipelines", str(len(program.pipelines)))
    table.add_row("manual bonus reasons", str(len(program.manual_bonuses)))
    table.add_row("discounts", str(len(program.discounts)))
    if program.campaigns:
        table.add_row("campaigns", str(len(program.campaigns)))
    table.add_row("redemption cap", f"{program.redemption.max_share} %")
    return Group(head, table)
