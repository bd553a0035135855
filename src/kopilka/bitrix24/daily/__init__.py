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

from collections.abc import Sequence

from kopilka.bitrix24.connections import get_connection, portal_program
from kopilka.bitrix24.daily.birthdays import (
    birthdate_of,
    birthday_changes,
    birthdays,
    flag_field,
    flag_is_on,
    read_all_contacts,
    read_by_birthday,
    window_ranges,
)
from kopilka.bitrix24.daily.common import (
    BIRTHDAYS,
    CONTACT_PREFIX,
    EXPIRY,
    JOBS,
    TOTALS,
    DailyReport,
    contact_id_of,
    flush,
    has_run,
    local_day,
    record_run,
    serialise_with_sync,
)
from kopilka.bitrix24.daily.expiry import expire_portal, expiry_comment
from kopilka.bitrix24.daily.totals import recorded_contacts, refresh_all, totals, vanished_deals
from kopilka.process.services import Services

__all__ = [
    "BIRTHDAYS",
    "CONTACT_PREFIX",
    "EXPIRY",
    "JOBS",
    "TOTALS",
    "DailyReport",
    "birthdate_of",
    "birthday_changes",
    "birthdays",
    "contact_id_of",
    "expire_portal",
    "expiry_comment",
    "flag_field",
    "flag_is_on",
    "flush",
    "has_run",
    "local_day",
    "read_all_contacts",
    "read_by_birthday",
    "record_run",
    "recorded_contacts",
    "refresh_all",
    "run_daily",
    "serialise_with_sync",
    "totals",
    "vanished_deals",
    "window_ranges",
]


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
