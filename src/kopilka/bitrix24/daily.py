"""Daily work on each connected portal: calendar expiry (R-09), the birthday window (R-10) and the
refresh of every contact's Kopilka fields, yearly totals included (R-16).

A tick (every few minutes, ``kopilka.process.worker``) runs :func:`run_daily` per portal:

* **expiry** every tick: the lots past their date are expired (``ledger.expiry``, effective at the
  instant they were due, once) and the owners' fields refreshed in the same transaction;
* **birthdays** once per local day of the program: every contact's ``BIRTHDATE`` and checkbox are
  read in batched keyset pages, and the checkbox is written only where it is wrong;
* **totals** once per local day: recorded deals that vanished from the portal, and deals changed
  since the last sweep, are synced first; then every contact with recorded won deals gets its
  fields recomputed from scratch (``writeback.refresh_contacts``), in chunks.

Writes go through the outbox in the transaction that decides them and are sent by a sync of the
portal (one sender at a time, retried, see ``sync``). A day's run of a daily job is recorded in
``b24_daily_runs``: a service down at midnight runs it at its first tick after, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24 import outbox
from kopilka.bitrix24.client import PAGE_SIZE as PAGE
from kopilka.bitrix24.client import Bitrix24Client
from kopilka.bitrix24.connections import Connection, get_connection, portal_program
from kopilka.bitrix24.service import sweep_portal
from kopilka.bitrix24.sync import SYNC_LOCK, SyncReport, mark_dirty, sync_portal
from kopilka.bitrix24.writeback import refresh_contacts, timeline_write
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import accounts, b24_daily_runs, b24_deal_shares, b24_deals, customers
from kopilka.domain.birthday import in_birthday_window
from kopilka.domain.explain import points_ru
from kopilka.ledger.expiry import due_accounts, expire_accounts
from kopilka.ledger.types import Book, Posted
from kopilka.process.services import Services
from kopilka.program.model import Program

log = logging.getLogger("kopilka.bitrix24.daily")

BIRTHDAYS, TOTALS, EXPIRY = "birthdays", "totals", "expiry"
JOBS = (EXPIRY, BIRTHDAYS, TOTALS)
EXPIRY_CHUNK = 200  # accounts per transaction
TOTALS_CHUNK = 500  # contacts per transaction
CONTACT_PREFIX = "contact:"


@dataclass
class DailyReport:
    day: date | None = None
    ran: list[str] = field(default_factory=list)
    expired_entries: int = 0
    expired_points: int = 0
    contacts_read: int = 0
    birthdays_on: int = 0
    birthdays_off: int = 0
    vanished_deals: int = 0
    refreshed_contacts: int = 0
    sync: SyncReport = field(default_factory=SyncReport)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None,
            "ran": self.ran,
            "expired_entries": self.expired_entries,
            "expired_points": self.expired_points,
            "contacts_read": self.contacts_read,
            "birthdays_on": self.birthdays_on,
            "birthdays_off": self.birthdays_off,
            "vanished_deals": self.vanished_deals,
            "refreshed_contacts": self.refreshed_contacts,
            "deals_synced": self.sync.deals,
            "writes": self.sync.writes,
        }


async def serialise_with_sync(conn: AsyncConnection, portal_id: int) -> None:
    """Wait for the portal's running sync and keep the next one out until this transaction
    ends. A transaction that recomputes contact fields outside the sync must take this first:
    otherwise it could queue a value computed before a deal settled, after the sync queued the
    newer one, and the older value would be the one left on the portal."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :portal)"), {"ns": SYNC_LOCK, "portal": portal_id}
    )


# --- reading every contact ---------------------------------------------------------------------


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


# --- the birthday window (R-10) ----------------------------------------------------------------


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
    contacts = await read_all_contacts(client, ["BIRTHDATE", code])
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


# --- calendar expiry (R-09) --------------------------------------------------------------------


def contact_id_of(external_id: str) -> int | None:
    tail = external_id.removeprefix(CONTACT_PREFIX)
    return int(tail) if external_id.startswith(CONTACT_PREFIX) and tail.isdigit() else None


async def _owners(conn: AsyncConnection, account_ids: Sequence[int]) -> dict[int, int]:
    """account id -> the portal contact owning it (accounts of other customers left out)."""
    rows = await conn.execute(
        select(accounts.c.id, customers.c.external_id)
        .join(customers, customers.c.id == accounts.c.customer_id)
        .where(accounts.c.id.in_(list(account_ids)))
    )
    return {
        int(r.id): contact
        for r in rows
        if (contact := contact_id_of(str(r.external_id))) is not None
    }


def expiry_comment(tx: Posted) -> str:
    amount = sum(leg.amount for leg in tx.legs if leg.account_kind == "expired")
    return f"Копилка: сгорело {points_ru(amount)} — {tx.reason} · запись №{tx.id}"


async def expire_portal(
    services: Services, connection: Connection, book: Book, program: Program, now: datetime
) -> tuple[int, int]:
    """Post every due expiry of the portal's book; (entries, points in kopecks).

    Each chunk of accounts in one transaction: the expiry postings (effective when due, keyed by
    what they expire, so a late or repeated run posts each once), the owners' refreshed fields and
    a comment on each owner's timeline.
    """
    async with services.engine.connect() as conn:
        due = await due_accounts(conn, book, now)
    entries = points = 0
    comments = services.settings.b24_timeline_comments
    for start in range(0, len(due), EXPIRY_CHUNK):
        chunk = due[start : start + EXPIRY_CHUNK]

        async def unit(conn: AsyncConnection, chunk: list[int] = chunk) -> list[Posted]:
            await serialise_with_sync(conn, connection.portal_id)
            posted = await expire_accounts(conn, book, chunk, now=now)
            owners = await _owners(conn, chunk)
            contacts = sorted(set(owners.values()))
            await refresh_contacts(
                conn, book, program, connection.portal_id, contacts, max(now, services.now())
            )
            for tx in posted if comments else []:
                account = next(leg.account_id for leg in tx.legs if leg.amount < 0)
                contact = owners.get(account)
                if contact is not None and not tx.replayed:
                    key = f"comment:tx:{tx.id}"
                    await outbox.queue_writes(
                        conn,
                        connection.portal_id,
                        [timeline_write("contact", contact, key, expiry_comment(tx))],
                    )
            return posted

        posted = await run_in_transaction(services.engine, unit)
        entries += sum(1 for tx in posted if not tx.replayed)
        points += sum(
            leg.amount
            for tx in posted
            if not tx.replayed
            for leg in tx.legs
            if leg.account_kind == "expired"
        )
    if entries:
        log.info("portal %s: %d expiry entries posted", connection.portal_id, entries)
    return entries, points


# --- totals and every contact's fields (R-16) --------------------------------------------------


async def vanished_deals(services: Services, connection: Connection) -> list[int]:
    """Recorded deals (not known deleted) that the portal no longer has: a deletion whose event
    was lost. Read as ``@ID`` lists, 50 IDs a command, 50 commands a request."""
    async with services.engine.connect() as conn:
        known = [
            int(d)
            for d in await conn.scalars(
                select(b24_deals.c.deal_id)
                .where(b24_deals.c.portal_id == connection.portal_id, b24_deals.c.semantic != "D")
                .order_by(b24_deals.c.deal_id)
            )
        ]
    if not known:
        return []
    client = services.client_for(connection)
    parts = [known[i : i + PAGE] for i in range(0, len(known), PAGE)]
    found = await client.batch_many(
        {
            f"d{n}": ("crm.deal.list", {"filter": {"@ID": part}, "select": ["ID"], "start": -1})
            for n, part in enumerate(parts)
        }
    )
    present = {int(d["ID"]) for page in found.values() for d in page or []}
    return [d for d in known if d not in present]


async def recorded_contacts(conn: AsyncConnection, portal_id: int) -> list[int]:
    """Every contact with a won deal on record."""
    rows = await conn.scalars(
        select(b24_deal_shares.c.contact_id)
        .where(b24_deal_shares.c.portal_id == portal_id)
        .distinct()
        .order_by(b24_deal_shares.c.contact_id)
    )
    return [int(c) for c in rows]


async def refresh_all(
    services: Services,
    connection: Connection,
    book: Book,
    program: Program,
    now: datetime,
    *,
    chunk: int = TOTALS_CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute and queue the fields of every contact with recorded won deals, a chunk of
    contacts per transaction; returns how many."""
    async with services.engine.connect() as conn:
        contacts = await recorded_contacts(conn, connection.portal_id)
    for start in range(0, len(contacts), chunk):
        part = contacts[start : start + chunk]

        async def unit(conn: AsyncConnection, part: list[int] = part) -> None:
            await serialise_with_sync(conn, connection.portal_id)
            # the clock as of this chunk: a deal settled since the run began counts
            moment = max(now, services.now())
            await refresh_contacts(conn, book, program, connection.portal_id, part, moment)

        await run_in_transaction(services.engine, unit)
        if progress:
            progress(start + len(part), len(contacts))
    return len(contacts)


async def totals(
    services: Services, connection: Connection, book: Book, program: Program, now: datetime
) -> tuple[int, int, SyncReport]:
    """Catch up with the portal (lost deletions, missed edits), then refresh every contact;
    (vanished deals, contacts refreshed, the catch-up sync)."""
    gone = await vanished_deals(services, connection)
    if gone:

        async def hint(conn: AsyncConnection) -> None:
            await mark_dirty(conn, connection.portal_id, gone, "daily")

        await run_in_transaction(services.engine, hint)
    await sweep_portal(services, connection)
    report = await flush(services, connection)
    refreshed = await refresh_all(services, connection, book, program, now)

    async def done(conn: AsyncConnection) -> None:
        stats = {"vanished": len(gone), "contacts": refreshed}
        await record_run(conn, connection.portal_id, TOTALS, local_day(program, now), stats)

    await run_in_transaction(services.engine, done)
    return len(gone), refreshed, report


# --- the day's run -----------------------------------------------------------------------------


def local_day(program: Program, now: datetime) -> date:
    return now.astimezone(program.tz).date()


async def has_run(conn: AsyncConnection, portal_id: int, job: str, day: date) -> bool:
    found = await conn.scalar(
        select(b24_daily_runs.c.day).where(
            b24_daily_runs.c.portal_id == portal_id,
            b24_daily_runs.c.job == job,
            b24_daily_runs.c.day == day,
        )
    )
    return found is not None


async def record_run(
    conn: AsyncConnection, portal_id: int, job: str, day: date, stats: Mapping[str, Any]
) -> None:
    stmt = insert(b24_daily_runs).values(portal_id=portal_id, job=job, day=day, stats=dict(stats))
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["portal_id", "job", "day"],
            set_={"stats": stmt.excluded.stats, "finished_at": stmt.excluded.finished_at},
        )
    )


async def flush(services: Services, connection: Connection) -> SyncReport:
    """Send the portal's queued writes, by a sync of the portal: one sender at a time, and any
    deal hinted meanwhile is settled on the way."""
    return await sync_portal(
        services.engine,
        services.client_for(connection),
        connection,
        now=services.now,
        comments=services.settings.b24_timeline_comments,
    )


async def run_daily(
    services: Services,
    portal_id: int,
    *,
    only: Sequence[str] = JOBS,
    force: bool = False,
) -> DailyReport:
    """One tick for one portal: expiry; birthdays and totals unless they already ran on the
    program's local day (``force``: run them again); then send the writes."""
    async with services.engine.connect() as conn:
        connection = await get_connection(conn, portal_id)
        if connection.status != "active":
            return DailyReport()
        book, program = await portal_program(conn, connection)
    now = services.now()
    today = local_day(program, now)
    report = DailyReport(day=today)
    async with services.engine.connect() as conn:
        due = {
            job
            for job in (BIRTHDAYS, TOTALS)
            if job in only and (force or not await has_run(conn, portal_id, job, today))
        }
    if EXPIRY in only:
        report.expired_entries, report.expired_points = await expire_portal(
            services, connection, book, program, now
        )
        report.ran.append(EXPIRY)
    if BIRTHDAYS in due:
        read, on, off = await birthdays(services, connection, program, today)
        report.contacts_read, report.birthdays_on, report.birthdays_off = read, on, off
        report.ran.append(BIRTHDAYS)
    if TOTALS in due:
        report.vanished_deals, report.refreshed_contacts, catch_up = await totals(
            services, connection, book, program, now
        )
        report.sync = catch_up
        report.ran.append(TOTALS)
    final = await flush(services, connection)
    report.sync.deals += final.deals
    report.sync.writes += final.writes
    report.sync.failed += final.failed
    return report
