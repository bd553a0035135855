"""``kopilka card issue`` and ``kopilka notify send | status | daily``: cards by hand, and the
notification outbox from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select

from kopilka.cli.bitrix24 import PortalRef, _connection
from kopilka.cli.common import fail, out, run
from kopilka.config import get_settings
from kopilka.db.tables import notifications
from kopilka.process.services import open_services

card_app = typer.Typer(no_args_is_help=True, help="Bonus cards.")
notify_app = typer.Typer(no_args_is_help=True, help="Notifications (SMS, e-mail, Bitrix24).")


@card_app.command("issue")
def issue(
    contact: Annotated[int, typer.Option("--contact", help="The Bitrix24 contact ID.")],
    portal: PortalRef = None,
) -> None:
    """Issue the contact's bonus card now (only the phone is required)."""
    from kopilka.cards.service import ContactNotFound, issue_by_hand

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            try:
                outcome = await issue_by_hand(services, connection.portal_id, contact, actor="cli")
            except ContactNotFound as exc:
                raise fail(str(exc)) from None
        if outcome.status in ("issued", "exists"):
            out.print(f"card {outcome.number} ({outcome.status})")
            return
        reasons = {
            "no_phone": "the contact has no phone: add one, then issue again",
            "bad_phone": "the contact's phone is not a valid number",
            "taken": f"the phone belongs to contact {outcome.other_contact}'s card",
        }
        raise fail(f"no card: {reasons.get(outcome.status, outcome.status)}")

    run(go())


@notify_app.command("send")
def send(portal: PortalRef = None) -> None:
    """Expand new ledger events into messages and deliver the due ones now."""
    from kopilka.notify.service import run_notify

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            report = await run_notify(services, connection.portal_id)
        out.print(
            f"{report.sent} sent, {report.retried} to retry, {report.failed} failed, "
            f"{report.skipped} skipped, {report.postponed} postponed (quiet hours)"
        )

    run(go())


@notify_app.command("status")
def status(portal: PortalRef = None) -> None:
    """Messages by channel and status."""

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            async with services.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(notifications.c.channel, notifications.c.status, func.count())
                        .where(notifications.c.portal_id == connection.portal_id)
                        .group_by(notifications.c.channel, notifications.c.status)
                        .order_by(notifications.c.channel, notifications.c.status)
                    )
                ).all()
        for channel, state, count in rows:
            out.print(f"{channel:<13} {state:<8} {count}")

    run(go())


@notify_app.command("daily")
def daily(portal: PortalRef = None) -> None:
    """Run the birthday and "points expire soon" round now."""
    from kopilka.notify.birthdays import daily_round

    async def go() -> None:
        async with open_services(get_settings()) as services:
            connection = await _connection(services, portal)
            report = await daily_round(services, connection, services.now(), force=True)
        out.print(f"{report.customers} customers checked, {report.queued} messages queued")

    run(go())


def register(app: typer.Typer) -> None:
    app.add_typer(card_app, name="card")
    app.add_typer(notify_app, name="notify")
