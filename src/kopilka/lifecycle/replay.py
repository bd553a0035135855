"""The what-if replay, pure: a program run over recorded won deals in close order, in memory.

Each deal is judged as the sync judges it (``bitrix24.sync.seen.deal_histories``): by its
contacts' histories as of its close — their shares of the deals won before it, counted from the
levels' period start — and its own shares then join the histories. Shares, levels and points
come from the domain's own functions (``split``, ``eligibility``, ``levels``, ``engine``) under
the *replayed* program; nothing here re-states a rule. A campaign's budget is spent in close
order, as the ledger would have spent it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from kopilka.domain.campaigns import fit_budgets
from kopilka.domain.deal import CustomerHistory, Deal
from kopilka.domain.effects import DealEffects, LevelStatus
from kopilka.domain.eligibility import basket
from kopilka.domain.engine import evaluate_deal
from kopilka.domain.levels import metric_of, period_start, status_for
from kopilka.domain.split import ordered, split_total
from kopilka.program.model import Program

Share = tuple[int, int, int]  # contact id, pipeline (CATEGORY_ID), kopecks


@dataclass(frozen=True, slots=True)
class Recorded:
    """A won deal as Kopilka recorded it. ``deal`` is what the engine saw (None: settled before
    that was recorded — it cannot be replayed, its recorded ``shares`` still count in the
    histories); ``paid`` is what the deal took in points (the payer's balance for the replay)."""

    deal_id: int
    closed_at: datetime
    deal: Deal | None
    shares: tuple[Share, ...] = ()
    paid: int = 0


@dataclass(frozen=True, slots=True)
class Replayed:
    deal: Deal
    effects: DealEffects
    histories: Mapping[int, CustomerHistory]

    def earned(self) -> dict[int, int]:
        """Points per contact."""
        out: dict[int, int] = defaultdict(int)
        for a in self.effects.accruals:
            out[a.contact_id] += a.amount
        return dict(out)


@dataclass(slots=True)
class Standing:
    """Every contact's won deals and purchases by pipeline, from the levels' period start."""

    program: Program
    now: datetime
    deals: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    amounts: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def since(self) -> datetime | None:
        levels = self.program.levels
        return period_start(levels, self.now, self.program.tz) if levels else None

    def add(self, closed_at: datetime, shares: Iterable[Share]) -> None:
        since = self.since
        if since is not None and closed_at < since:
            return
        for contact, category, amount in shares:
            by_deals, by_amount = self.deals[contact], self.amounts[contact]
            by_deals[category] = by_deals.get(category, 0) + 1
            by_amount[category] = by_amount.get(category, 0) + amount

    def history(self, contact: int) -> CustomerHistory:
        deals, amounts = self.deals.get(contact, {}), self.amounts.get(contact, {})
        return CustomerHistory(
            won_deals=sum(deals.values()),
            purchases_total=sum(amounts.values()),
            won_deals_by_pipeline=dict(deals),
            purchases_by_pipeline=dict(amounts),
        )

    def level(self, contact: int) -> LevelStatus | None:
        levels = self.program.levels
        if levels is None:
            return None
        return status_for(levels, metric_of(self.program, levels, self.history(contact)))


def shares_of(program: Program, deal: Deal) -> tuple[Share, ...]:
    """Each contact's share of a won deal, as the sync records it (``sync.plan.share_rows``)."""
    if deal.stage != "won" or deal.closed_at is None or not deal.contacts:
        return ()
    amounts = split_total(program.split, deal.contacts, basket(program, deal).order_amount)
    return tuple((contact, deal.pipeline_id, amount) for contact, amount in amounts.items())


def replay(
    program: Program, recorded: Iterable[Recorded], now: datetime
) -> tuple[list[Replayed], Standing]:
    """Every replayable deal's effects under ``program``, in close order, and the standing the
    histories reach at the end."""
    standing = Standing(program, now)
    done: list[Replayed] = []
    spent: dict[str, int] = {}  # a campaign window -> points given so far, in close order
    for item in sorted(recorded, key=lambda r: (r.closed_at, r.deal_id)):
        deal = item.deal
        if deal is None:
            standing.add(item.closed_at, item.shares)
            continue
        histories = {c.id: standing.history(c.id) for c in deal.contacts}
        if deal.contacts and item.paid:  # the payer is the primary contact (engine, redeem)
            payer = ordered(deal.contacts)[0].id
            histories[payer] = replace(histories[payer], available_points=item.paid)
        effects = evaluate_deal(program, deal, histories, now)
        if program.campaigns:
            fitted, spent = fit_budgets(program, effects.accruals, spent)
            effects = replace(effects, accruals=tuple(fitted))
        done.append(Replayed(deal, effects, histories))
        standing.add(item.closed_at, shares_of(program, deal))
    return done, standing
