"""A lineage's versions and activations as plain values, and which version is in force when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Activation:
    """``hash`` is in force from ``active_from`` until a later activation takes over."""

    id: int
    program_id: int
    code: str
    hash: str
    active_from: datetime
    applied_at: datetime
    applied_by: str


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply_program`` did: the version now recorded, from when it is in force, and the
    version in force before (None for a portal's first program)."""

    program_id: int
    hash: str
    active_from: datetime
    previous: str | None
    renamed_from: str | None = None
    changed: bool = True  # False: this very version was already in force, nothing recorded


def in_force(activations: Sequence[Activation], at: datetime) -> Activation | None:
    """The activation in force at ``at``: the newest one whose ``active_from`` is not after it
    (ties: the one applied last). A lineage's first version is in force from the beginning —
    before it there was no program and nothing was priced — so a moment before every activation
    gets the first one."""
    if not activations:
        return None
    started = [a for a in activations if a.active_from <= at]
    if not started:
        return min(activations, key=lambda a: (a.active_from, a.id))
    return max(started, key=lambda a: (a.active_from, a.id))


def scheduled(activations: Sequence[Activation], at: datetime) -> list[Activation]:
    """Activations that take effect after ``at``, soonest first."""
    return sorted((a for a in activations if a.active_from > at), key=lambda a: a.active_from)


@dataclass(frozen=True, slots=True)
class ContactWhatIf:
    """One contact in a what-if: points its deals in scope earned (live accruals) and would
    have earned under the candidate; its level now (the version in force, every won deal) and
    under the candidate (None: no level)."""

    contact_id: int
    name: str
    deals: int
    earned: int
    would_earn: int
    difference: int
    level_now: str | None
    level_would: str | None


@dataclass(frozen=True, slots=True)
class CampaignCost:
    """What a campaign of the candidate would cost on the deals in scope (its lines, within its
    budget, in close order), and what its lines gave on them in the ledger now."""

    campaign: str
    title: str
    deals: int
    would_cost: int
    cost_now: int
    budget: int | None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A candidate program replayed over the portal's recorded won deals (closed since
    ``since``, or all). Amounts in kopecks of points. ``liability_added``: the points still owed
    (not expired by now) under the candidate minus those owed now for the same deals."""

    candidate: str
    in_force: str
    since: datetime | None
    deals: int
    replayed: int
    not_replayable: int
    earned: int
    would_earn: int
    difference: int
    level_changes: int
    liability_added: int
    contacts: tuple[ContactWhatIf, ...]
    campaigns: tuple[CampaignCost, ...] = ()
