"""The product rows of many deals, ``crm.item.productrow.list`` packed 50 commands to a batch.

The docs disagree about a list in ``filter[=ownerId]``: their revisions up to August 2026 say
``=`` "works with arrays as well"; the newest says "the only key that accepts an array of values
is ``@id``", that an array elsewhere is ignored, and lists ``INVALID_ARG_VALUE`` for an array under
a prefixed key. A deal that no longer exists answers ``ACCESS_DENIED`` (newest revision), and a
list naming one may fail as a whole (seen on a portal written from the docs).

So rows are read ``ROWS_GROUP`` deals to a command, always as a list (a deal alone too: a
portal refusing lists is found out at its first sync) while the portal takes lists, and one deal
to a command in the documented form (``per_deal``) once it has refused one. A command that fails
is read again one deal per command, in the documented form
(:func:`~kopilka.bitrix24.batches.read_split`); a deal that still fails is reported with the
portal's reason, for the caller to tell a deleted deal from one to park. A list refused while its
deals read alone (or answered with rows of deals it did not ask for: the array was ignored) shows
the list form is refused: the answer says so, and the caller remembers it for the portal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kopilka.bitrix24.batches import Build, Split, read_split
from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.errors import B24AccessDenied, B24BadRequest, B24Error, B24NotFound
from kopilka.bitrix24.mapping import Row, to_int

ROWS_GROUP = 10  # deals per command in the list form: most deals have a few rows, so one page
GONE = (B24AccessDenied, B24NotFound)  # what a deal that no longer exists answers
KEY = "r"  # the rows' commands' keys start with it (others may share the first round)

Groups = Mapping[str, tuple[Sequence[int], Build]]


@dataclass
class DealRows:
    rows: dict[int, list[Row]] = field(default_factory=lambda: defaultdict(list))
    #: deals whose rows the portal would not give, even asked alone
    failed: dict[int, B24Error] = field(default_factory=dict)
    #: rows were read one deal per command (the portal refuses the list form)
    per_deal: bool = False


def rows_command(
    deals: Sequence[int], after: int = 0, *, listed: bool = True
) -> tuple[str, dict[str, Any]]:
    """The rows of ``deals``: a list of owners (``listed``), or the one deal as the docs show."""
    owner: int | list[int] = list(deals) if listed else deals[0]
    flt: dict[str, Any] = {"=ownerType": "D", "=ownerId": owner}
    if after:
        flt[">id"] = after
    return "crm.item.productrow.list", {"filter": flt, "order": {"id": "ASC"}, "start": -1}


def _rows(listed: bool, after: int = 0) -> Build:
    """A group's page of rows; read alone after a refusal, a deal starts from its first row."""

    def build(deals: Sequence[int], alone: bool) -> tuple[str, dict[str, Any]]:
        if alone:
            return rows_command(deals, listed=False)
        return rows_command(deals, after, listed=listed)

    return build


def _page(result: Any) -> list[dict[str, Any]]:
    return list((result or {}).get("productRows", [])) if isinstance(result, Mapping) else []


def _own_rows(key: str, deals: Sequence[int], result: Any) -> B24Error | None:
    if not key.startswith(KEY):
        return None
    wanted = set(deals)
    foreign = sorted(
        {o for r in _page(result) if (o := to_int(r.get("ownerId")) or 0) not in wanted}
    )
    if foreign:
        return B24BadRequest(
            f"crm.item.productrow.list: rows of deals not asked for ({foreign[:3]}): "
            "the portal ignored the list of owners",
            method="crm.item.productrow.list",
        )
    return None


def _take(out: DealRows, split: Split, listed: bool) -> dict[str, tuple[list[int], int, bool]]:
    """Add a round's answers to ``out``; the groups with a full page, and where they stopped."""
    for key, (group, error) in split.refused.items():
        for deal in group:  # read again from its first row, alone
            out.rows.pop(deal, None)
        as_list = listed and "_" not in key
        if (
            as_list
            and not isinstance(error, GONE)
            and any(k.startswith(f"{key}_") for k in split.results)
        ):
            out.per_deal = True  # refused as a list, answered alone: the form is refused
    for deal, error in split.failed.values():
        out.rows.pop(deal, None)
        out.failed[deal] = error
    more = {}
    for key, (group, result) in split.results.items():
        page = _page(result)
        for row in page:
            out.rows[int(row["ownerId"])].append(Row(row))
        if len(page) >= PAGE:  # read alone (after a refusal, or per deal): no list
            more[key] = (group, int(page[-1]["id"]), listed and "_" not in key)
    return more


async def read_rows(
    client: Bitrix24Client,
    deal_ids: Sequence[int],
    *,
    per_deal: bool = False,
    also: Groups | None = None,
) -> tuple[DealRows, Split]:
    """The rows of ``deal_ids``. ``also``: other commands to send with the first round (keys
    not starting with ``r``), whose answer comes back as the second value."""
    out = DealRows(per_deal=per_deal)
    size = 1 if per_deal else ROWS_GROUP
    ids = list(deal_ids)
    groups: dict[str, tuple[Sequence[int], Build]] = dict(also or {})
    for n, at in enumerate(range(0, len(ids), size)):
        groups[f"{KEY}{n}"] = (ids[at : at + size], _rows(not per_deal))
    first = await read_split(client, groups, check=_own_rows)
    pending = _take(out, first.of(KEY), not per_deal)
    while pending:  # a group with a full page of rows continues after the last row seen
        split = await read_split(
            client,
            {k: (group, _rows(listed, after)) for k, (group, after, listed) in pending.items()},
            check=_own_rows,
        )
        pending = _take(out, split, not per_deal)
    for deal in list(out.rows):
        out.rows[deal].sort(key=lambda r: (to_int(r.raw.get("sort")) or 0, int(r.raw["id"])))
    return out, first.of(KEY, besides=True)
