"""Reading many deals at once (DESIGN D5): every read is a list call filtered by IDs, packed 50
commands to a ``batch``, so a chunk of hundreds of deals costs a handful of HTTP requests.

Round 1 reads the deals (``crm.deal.list``), their contacts (``crm.item.list`` with
``contactIds``) and their product rows (:mod:`kopilka.bitrix24.deal_rows`); round 2 reads the
contacts' fields (``crm.contact.list``). A deal missing from the answer was deleted.

A command the portal refuses never fails the chunk (issue 15): its deals are read again one
command each, and a deal the portal still will not show is left ``unreadable`` with the portal's
reason (the sync parks it and tries again later) — unless it is gone: product rows refused for a
deal the deal list no longer has are those of a deleted deal. A partial answer is never taken
for the truth: an unreadable deal is not settled at all. Failures of the portal as a whole (no
answer, dead credentials, limits) still fail the read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kopilka.bitrix24.batches import Build, read_split
from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.deal_rows import GONE, read_rows
from kopilka.bitrix24.mapping import Row, to_int

DEAL_SELECT = [
    "ID",
    "TITLE",
    "CATEGORY_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "CONTACT_ID",
    "COMPANY_ID",
    "ASSIGNED_BY_ID",
    "CLOSEDATE",
    "DATE_MODIFY",
]


@dataclass
class Snapshot:
    """What the portal says now about a chunk of deals."""

    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    contact_ids: dict[int, list[int]] = field(default_factory=dict)
    rows: dict[int, list[Row]] = field(default_factory=lambda: defaultdict(list))
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    elements: dict[str, Any] = field(default_factory=dict)  # offers-list elements by code
    #: deals the portal would not show (a command refused even alone): deal -> the reason
    unreadable: dict[int, str] = field(default_factory=dict)
    #: product rows were read one deal per command (the portal refuses a list of owners)
    rows_per_deal: bool = False

    def deleted(self, deal_ids: Sequence[int]) -> list[int]:
        return [d for d in deal_ids if d not in self.deals and d not in self.unreadable]


def _chunks(values: Sequence[int], size: int) -> list[list[int]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def _deal_list(select: list[str]) -> Build:
    def build(deals: Sequence[int], alone: bool) -> tuple[str, dict[str, Any]]:
        return "crm.deal.list", {"filter": {"@ID": list(deals)}, "select": select, "start": -1}

    return build


def _contact_ids(deals: Sequence[int], alone: bool) -> tuple[str, dict[str, Any]]:
    params = {"entityTypeId": 2, "filter": {"@id": list(deals)}, "select": ["id", "contactIds"]}
    return "crm.item.list", {**params, "start": -1}


def _contact_list(select: list[str]) -> Build:
    def build(contacts: Sequence[int], alone: bool) -> tuple[str, dict[str, Any]]:
        return "crm.contact.list", {
            "filter": {"@ID": list(contacts)},
            "select": select,
            "start": -1,
        }

    return build


async def read_deals(
    client: Bitrix24Client,
    deal_ids: Sequence[int],
    *,
    deal_fields: Sequence[str] = (),
    contact_fields: Sequence[str] = (),
    rows_per_deal: bool = False,
) -> Snapshot:
    ids = sorted(set(deal_ids))
    snap = Snapshot()
    groups: dict[str, tuple[Sequence[int], Build]] = {}
    deal_list = _deal_list([*DEAL_SELECT, *deal_fields])
    for n, part in enumerate(_chunks(ids, PAGE)):
        groups[f"d{n}"] = (part, deal_list)
        groups[f"c{n}"] = (part, _contact_ids)
    rows, split = await read_rows(client, ids, per_deal=rows_per_deal, also=groups)
    for key, (_group, result) in split.results.items():
        if key.startswith("d"):
            for deal in result or []:
                snap.deals[int(deal["ID"])] = deal
        else:
            for item in (result or {}).get("items", []):
                snap.contact_ids[int(item["id"])] = [int(c) for c in item.get("contactIds") or []]
    for deal_id, error in split.failed.values():
        snap.unreadable[deal_id] = str(error)
    for deal_id, error in rows.failed.items():
        if deal_id in snap.deals or not isinstance(error, GONE):
            snap.unreadable.setdefault(deal_id, str(error))
    snap.rows, snap.rows_per_deal = rows.rows, rows.per_deal
    await _read_contacts(client, snap, contact_fields)
    return snap


async def _read_contacts(
    client: Bitrix24Client, snap: Snapshot, contact_fields: Sequence[str]
) -> None:
    """Round 2: the contacts of the deals read; a contact the portal will not show makes its
    deals unreadable (their contacts' fields would be guessed)."""
    of_deal = {
        d: {*snap.contact_ids.get(d, []), *([p] if (p := to_int(r.get("CONTACT_ID"))) else [])}
        for d, r in snap.deals.items()
    }
    wanted = sorted({c for cs in of_deal.values() for c in cs})
    if not wanted:
        return
    select = ["ID", "NAME", "LAST_NAME", "TYPE_ID", "BIRTHDATE", "ASSIGNED_BY_ID", *contact_fields]
    contact_list = _contact_list(select)
    split = await read_split(
        client, {f"k{n}": (part, contact_list) for n, part in enumerate(_chunks(wanted, PAGE))}
    )
    for _group, result in split.results.values():
        for contact in result or []:
            snap.contacts[int(contact["ID"])] = contact
    for contact_id, error in split.failed.values():
        for deal_id, contacts in of_deal.items():
            if contact_id in contacts:
                snap.unreadable.setdefault(deal_id, f"contact {contact_id}: {error}")
