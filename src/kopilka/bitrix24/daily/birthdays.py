"""The birthday window (R-10): the contacts whose birthday is near, found by filtered reads on
``BIRTHDATE`` (and those whose checkbox is on), the checkbox written only where it is wrong.

A legacy ``crm.contact.list`` filter compares whole dates (``>=BIRTHDATE``, ``<=BIRTHDATE``) and
has no OR, so a year-agnostic window is one date range per birth year (two where the window
crosses the new year), each a command of a ``batch``: a century of birth years costs 3
requests a day, whatever the size of the portal. The ranges are a day wider on each side (a
29 February birthday is celebrated on the 28th in common years); whether a contact is inside
the window is decided by :func:`kopilka.domain.birthday.in_birthday_window`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection
from kopilka.bitrix24.daily.common import (
    BIRTHDAYS,
    record_run,
)
from kopilka.db.engine import run_in_transaction
from kopilka.domain.birthday import in_birthday_window
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.daily")


def _page(
    select_: Sequence[str], after: int, upto: int | None = None
) -> tuple[str, dict[str, Any]]:
    flt: dict[str, Any] = {">ID": after}
    if upto is not None:
        flt["<=ID"] = upto
    return "crm.contact.list", {
        "filter": flt,
        "select": list(select_),
        "order": {"ID": "ASC"},
        "start": -1,
    }


async def read_all_contacts(
    client: Bitrix24Client, select_: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """Every contact of the portal (``select_`` fields), by keyset pages packed 50 to a batch.

    The first request reads the first page and the highest ID. The IDs up to it are then cut
    into windows ``ID > lo AND ID <= hi`` of the width the first page covered, each read with
    ``start=-1`` (no counting) as one command of a ``batch``; a window that fills its page goes on
    after its last ID, as keyset paging does. A portal of 20 000 contacts costs about 10 requests.
    """
    wanted = sorted({"ID", *select_})
    first = await client.batch(
        {
            "first": _page(wanted, 0),
            "last": (
                "crm.contact.list",
                {"select": ["ID"], "order": {"ID": "DESC"}, "start": -1},
            ),
        }
    )
    found: dict[int, dict[str, Any]] = {int(c["ID"]): c for c in first["first"] or []}
    if len(found) < PAGE:
        return found
    top = max((int(c["ID"]) for c in first["last"] or []), default=0)
    low, high = min(found), max(found)
    width = max(PAGE, high - low + 1)  # the span of IDs one full page covered
    pending = {
        f"w{lo}": (lo, min(lo + width, top), lo) for lo in range(high, top, width)
    }  # key -> (window start, window end, last ID seen)
    while pending:
        commands = {key: _page(wanted, seen, hi) for key, (_lo, hi, seen) in pending.items()}
        pages = await client.batch_many(commands)
        more: dict[str, tuple[int, int, int]] = {}
        for key, page in pages.items():
            items = list(page or [])
            for contact in items:
                found[int(contact["ID"])] = contact
            lo, hi, _seen = pending[key]
            if len(items) >= PAGE and int(items[-1]["ID"]) < hi:
                more[key] = (lo, hi, int(items[-1]["ID"]))
        pending = more
    return found


#: the oldest birth year looked for, in years before today
OLDEST = 100


def window_ranges(
    today: date, days_before: int, days_after: int, *, oldest: int = OLDEST
) -> list[tuple[date, date]]:
    """Inclusive ``BIRTHDATE`` ranges holding every birth date whose window (``days_before``
    the birthday to ``days_after`` after it) contains ``today``, one or two per birth year
    from ``today.year - oldest`` on (a superset: a day of margin on each side)."""
    span = range(-days_after - 1, days_before + 2)  # birthdays from today-after to today+before
    month_days = [(d.month, d.day) for d in (today + timedelta(days=n) for n in span)]
    if (2, 28) in month_days and (2, 29) not in month_days:
        month_days.append((2, 29))  # born on 29 February, celebrated on the 28th
    ranges: list[tuple[date, date]] = []
    for year in range(today.year - oldest, today.year + 1):
        days = sorted({d for m, day in month_days if (d := _date(year, m, day)) is not None})
        start = prev = days[0]
        for day in days[1:]:
            if day - prev > timedelta(days=1):
                ranges.append((start, prev))
                start = day
            prev = day
        ranges.append((start, prev))
    return ranges


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None  # 29 February of a common year


async def read_by_birthday(
    client: Bitrix24Client,
    today: date,
    days_before: int,
    days_after: int,
    select_: Sequence[str],
    *,
    also: Mapping[str, Any] | None = None,
) -> dict[int, dict[str, Any]]:
    """The contacts born in :func:`window_ranges` (``select_`` fields), and with ``also`` the
    contacts that filter finds too (e.g. a checkbox that is on), 50 commands to a ``batch``; a
    range that fills its page goes on after its last ID."""
    wanted = sorted({"ID", "BIRTHDATE", *select_})
    filters = {
        f"b{n}": {">=BIRTHDATE": lo.isoformat(), "<=BIRTHDATE": hi.isoformat()}
        for n, (lo, hi) in enumerate(window_ranges(today, days_before, days_after))
    }
    if also:
        filters["also"] = dict(also)
    found: dict[int, dict[str, Any]] = {}
    pending = dict.fromkeys(filters, 0)  # key -> the last ID seen
    while pending:
        commands = {
            key: (
                "crm.contact.list",
                {
                    "filter": {**filters[key], ">ID": after},
                    "select": wanted,
                    "order": {"ID": "ASC"},
                    "start": -1,
                },
            )
            for key, after in pending.items()
        }
        pages = await client.batch_many(commands)
        more: dict[str, int] = {}
        for key, page in pages.items():
            items = list(page or [])
            for contact in items:
                found[int(contact["ID"])] = contact
            if len(items) >= PAGE:
                more[key] = int(items[-1]["ID"])
        pending = more
    return found


def birthdate_of(value: Any) -> date | None:
    """``BIRTHDATE`` as the portal returns it: a datetime at midnight in the portal's offset
    (``1990-05-17T03:00:00+03:00``), or ``""``. The date is taken in the offset given."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return datetime.strptime(text[:10], "%d.%m.%Y").date()  # noqa: DTZ007 - a bare date
    except ValueError:
        return None


def flag_is_on(value: Any) -> bool:
    """A boolean user field as read: ``"1"``/``"0"`` (legacy), ``"Y"``/``"N"``, JSON booleans,
    ``null``/``""`` when never set."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().upper() in ("1", "Y", "TRUE")


def flag_field(program: Program) -> str | None:
    if program.birthday is None:
        return None
    return program.birthday.flag_field or program.fields.contact.birthday_flag


def birthday_changes(
    program: Program, contacts: Mapping[int, Mapping[str, Any]], today: date
) -> dict[int, bool]:
    """contact id -> the checkbox's right value, for the contacts whose checkbox is wrong."""
    rule, code = program.birthday, flag_field(program)
    if rule is None or code is None:
        return {}
    changes = {}
    for contact_id, record in contacts.items():
        born = birthdate_of(record.get("BIRTHDATE"))
        inside = born is not None and in_birthday_window(
            born, today, rule.days_before, rule.days_after
        )
        if inside != flag_is_on(record.get(code)):
            changes[contact_id] = inside
    return changes


async def birthdays(
    services: Services, connection: Connection, program: Program, today: date
) -> tuple[int, int, int]:
    """Set the birthday checkbox where it is wrong; (contacts read, turned on, turned off)."""
    code = flag_field(program)
    if code is None:
        return 0, 0, 0
    client = services.client_for(connection)
    rule = program.birthday
    assert rule is not None  # flag_field() is None without it
    contacts = await read_by_birthday(
        client, today, rule.days_before, rule.days_after, [code], also={code: 1}
    )
    changes = birthday_changes(program, contacts, today)
    on = sum(1 for inside in changes.values() if inside)
    stats = {"contacts": len(contacts), "on": on, "off": len(changes) - on}

    async def queue(conn: AsyncConnection) -> None:
        for contact_id, inside in sorted(changes.items()):
            await outbox.queue_write(
                conn,
                connection.portal_id,
                # per day: a box the manager changed back is set again tomorrow
                key=f"contact:{contact_id}:birthday:{today.isoformat()}",
                method="crm.contact.update",
                params={"id": contact_id, "fields": {code: 1 if inside else 0}},
                idempotent=True,
            )
        await record_run(conn, connection.portal_id, BIRTHDAYS, today, stats)

    await run_in_transaction(services.engine, queue)
    return len(contacts), on, len(changes) - on
