"""What a candidate program would have done to the portal's recorded won deals (``kopilka program
whatif``): the recorded deals, their shares and live accruals read in a few statements, the
replay in memory (:mod:`.replay`), nothing written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.domain.deal_codec import decode
from kopilka.ledger.types import Book
from kopilka.lifecycle.replay import Recorded, Replayed, Share, Standing, replay
from kopilka.lifecycle.schemas import CampaignCost, ContactWhatIf, WhatIf
from kopilka.program.model import Program


@dataclass(frozen=True, slots=True)
class Live:
    """What the ledger holds for one won deal: live accruals per contact (all, and those not
    expired by now) and the points it was paid with."""

    earned: dict[int, int]
    owed: dict[int, int]
    paid: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    report: WhatIf
    replayed: list[Replayed]  # every replayable won deal, in close order
    scope: frozenset[int]  # the deals closed since ``since``
    live: dict[int, Live]


_DEALS = text(
    "SELECT deal_id, closed_at, engine_input FROM b24_deals "
    "WHERE portal_id = :p AND semantic = 'S' AND closed_at IS NOT NULL"
)
_SHARES = text(
    "SELECT deal_id, contact_id, category_id, closed_at, amount FROM b24_deal_shares "
    "WHERE portal_id = :p"
)
_LIVE = text("""
SELECT CAST(substr(t.reference, 6) AS bigint) AS deal_id, t.kind, c.external_id,
       sum(e.amount) AS amount,
       coalesce(sum(e.amount) FILTER (WHERE l.expires_at IS NULL OR l.expires_at > :now), 0)
           AS owed
FROM ledger_transactions t
JOIN ledger_entries e ON e.transaction_id = t.id
JOIN accounts a ON a.id = e.account_id
JOIN customers c ON c.id = a.customer_id
LEFT JOIN lots l ON l.id = e.lot_id
WHERE t.portal_id = :p AND t.program_id = :prog AND t.reference <> ''
  AND t.reference ~ '^deal:[0-9]+$'
  AND ((t.kind = 'accrual' AND a.kind = 'customer') OR (t.kind = 'capture' AND a.kind = 'held'))
  AND NOT EXISTS (SELECT 1 FROM ledger_transactions r WHERE r.reverses_id = t.id)
GROUP BY 1, 2, 3
""")


_CAMPAIGNS = text("""
SELECT CAST(substr(t.reference, 6) AS bigint) AS deal_id,
       split_part(t.rule_id, ':', 2) AS campaign,
       sum(e.amount) AS amount
FROM ledger_transactions t
JOIN ledger_entries e ON e.transaction_id = t.id
JOIN accounts a ON a.id = e.account_id
WHERE t.portal_id = :p AND t.program_id = :prog AND t.kind = 'accrual' AND a.kind = 'customer'
  AND t.rule_id LIKE 'campaign:%' AND t.reference ~ '^deal:[0-9]+$'
  AND NOT EXISTS (SELECT 1 FROM ledger_transactions r WHERE r.reverses_id = t.id)
GROUP BY 1, 2
""")


async def campaign_costs(
    conn: AsyncConnection,
    book: Book,
    candidate: Program,
    replayed: Sequence[Replayed],
    scope: frozenset[int],
) -> tuple[CampaignCost, ...]:
    """Each campaign of the candidate: what it would cost on the deals in scope (every window),
    what its lines (by the same id) gave on them in the ledger now."""
    now_cost: dict[str, int] = defaultdict(int)
    rows = await conn.execute(_CAMPAIGNS, {"p": book.portal_id, "prog": book.program_id})
    for deal_id, campaign, amount in rows:
        if int(deal_id) in scope:
            now_cost[str(campaign)] += int(amount)
    out = []
    for campaign in candidate.campaigns:
        lines = [
            (r.deal.id, a.amount)
            for r in replayed
            if r.deal.id in scope
            for a in r.effects.accruals
            if a.rule_inputs.get("campaign") == campaign.id and a.rule_id.startswith("campaign:")
        ]
        out.append(
            CampaignCost(
                campaign.id,
                campaign.title,
                len({deal for deal, _ in lines}),
                sum(amount for _, amount in lines),
                now_cost.get(campaign.id, 0),
                campaign.budget,
            )
        )
    return tuple(out)


async def live_accruals(conn: AsyncConnection, book: Book, now: datetime) -> dict[int, Live]:
    """Per won deal: what its live accruals gave each contact, and what it was paid with."""
    earned: dict[int, dict[int, int]] = defaultdict(dict)
    owed: dict[int, dict[int, int]] = defaultdict(dict)
    paid: dict[int, int] = defaultdict(int)
    rows = await conn.execute(_LIVE, {"p": book.portal_id, "prog": book.program_id, "now": now})
    for deal_id, kind, external_id, amount, still in rows:
        if kind == "capture":
            paid[deal_id] += -int(amount)
            continue
        if not str(external_id).startswith("contact:"):
            continue
        contact = int(str(external_id).removeprefix("contact:"))
        earned[deal_id][contact] = earned[deal_id].get(contact, 0) + int(amount)
        owed[deal_id][contact] = owed[deal_id].get(contact, 0) + int(still)
    ids = set(earned) | set(paid)
    return {d: Live(earned.get(d, {}), owed.get(d, {}), paid.get(d, 0)) for d in ids}


async def recorded_deals(
    conn: AsyncConnection, portal_id: int, live: dict[int, Live]
) -> tuple[list[Recorded], list[tuple[datetime, Share]]]:
    """Every won deal on record, and every recorded share (for the levels now)."""
    by_deal: dict[int, list[Share]] = defaultdict(list)
    shares: list[tuple[datetime, Share]] = []
    for deal_id, contact, category, closed_at, amount in await conn.execute(
        _SHARES, {"p": portal_id}
    ):
        share = (int(contact), int(category), int(amount))
        by_deal[int(deal_id)].append(share)
        shares.append((closed_at, share))
    deals = []
    for deal_id, closed_at, engine_input in await conn.execute(_DEALS, {"p": portal_id}):
        deal = decode(engine_input) if engine_input else None
        deals.append(
            Recorded(
                int(deal_id),
                deal.closed_at if deal and deal.closed_at else closed_at,
                deal,
                tuple(by_deal.get(int(deal_id), ())),
                live[deal_id].paid if deal_id in live else 0,
            )
        )
    return deals, shares


async def what_if(
    conn: AsyncConnection,
    book: Book,
    in_force: Program,
    candidate: Program,
    *,
    since: datetime | None,
    now: datetime,
) -> Outcome:
    """Replay ``candidate`` over the portal's recorded won deals (all of them, for the
    histories) and report on those closed since ``since``."""
    live = await live_accruals(conn, book, now)
    deals, shares = await recorded_deals(conn, book.portal_id, live)
    replayed, would_stand = replay(candidate, deals, now)
    stands = Standing(in_force, now)
    for closed_at, share in shares:
        stands.add(closed_at, [share])
    scope = frozenset(d.deal_id for d in deals if since is None or d.closed_at >= since)
    mine = [r for r in replayed if r.deal.id in scope]
    would: dict[int, int] = defaultdict(int)
    owed_would = 0
    count: dict[int, int] = defaultdict(int)
    for r in mine:
        for contact, amount in r.earned().items():
            would[contact] += amount
        owed_would += sum(
            a.amount for a in r.effects.accruals if a.expires_at is None or a.expires_at > now
        )
        for c in r.deal.contacts:
            count[c.id] += 1
    earned: dict[int, int] = defaultdict(int)
    owed_now = 0
    for deal_id in scope & set(live):
        for contact, amount in live[deal_id].earned.items():
            earned[contact] += amount
        owed_now += sum(live[deal_id].owed.values())
    names = await _names(conn, book.portal_id, sorted(set(would) | set(earned) | set(count)))
    lines = []
    for contact in sorted(set(would) | set(earned) | set(count)):
        now_level, would_level = stands.level(contact), would_stand.level(contact)
        lines.append(
            ContactWhatIf(
                contact,
                names.get(contact, ""),
                count.get(contact, 0),
                earned.get(contact, 0),
                would.get(contact, 0),
                would.get(contact, 0) - earned.get(contact, 0),
                now_level.level_id if now_level else None,
                would_level.level_id if would_level else None,
            )
        )
    total_earned, total_would = sum(earned.values()), sum(would.values())
    report = WhatIf(
        candidate=candidate.hash,
        in_force=in_force.hash,
        since=since,
        deals=len(scope),
        replayed=len(mine),
        not_replayable=len(scope) - len(mine),
        earned=total_earned,
        would_earn=total_would,
        difference=total_would - total_earned,
        level_changes=sum(1 for line in lines if line.level_now != line.level_would),
        liability_added=owed_would - owed_now,
        contacts=tuple(lines),
        campaigns=await campaign_costs(conn, book, candidate, replayed, scope),
    )
    return Outcome(report, replayed, scope, live)


async def _names(conn: AsyncConnection, portal_id: int, contacts: Sequence[int]) -> dict[int, str]:
    rows = await conn.execute(
        text(
            "SELECT external_id, name FROM customers "
            "WHERE portal_id = :p AND external_id = ANY(:ids)"
        ),
        {"p": portal_id, "ids": [f"contact:{c}" for c in contacts]},
    )
    return {int(str(e).removeprefix("contact:")): str(n or "") for e, n in rows}
