"""``kopilka iiko connect | status | sync``: a restaurant on iiko linked to a portal, its mirror
and drift shown, a reconcile forced (docs/iiko.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import httpx
import typer

from kopilka.cli.bitrix24 import PortalRef
from kopilka.cli.common import fail, out, run
from kopilka.config import get_settings
from kopilka.db.engine import run_in_transaction
from kopilka.iiko import queries
from kopilka.iiko.client import IikoClient
from kopilka.iiko.errors import IikoError
from kopilka.iiko.service import client_for, connect, sync_link
from kopilka.iiko.tasks import bitrix24_of
from kopilka.portals.service import resolve_portal
from kopilka.process.services import open_services

iiko_app = typer.Typer(no_args_is_help=True, help="A restaurant on iiko (iikoCard wallets).")
RU = "https://api-ru.iiko.services"


def _rub(minor: int) -> str:
    return f"{minor / 100:.2f}"


@iiko_app.command("connect")
def connect_cmd(
    api_key: Annotated[str, typer.Option("--api-key", help="The API login made in iikoWeb.")],
    organization: Annotated[str, typer.Option("--organization", help="The organization's id.")],
    portal: PortalRef = None,
    url: Annotated[str, typer.Option("--url", help="iikoCloud's address.")] = RU,
    deals: Annotated[
        bool, typer.Option("--deals/--no-deals", help="Closed iiko orders become deals.")
    ] = True,
    category: Annotated[int, typer.Option("--deal-category", help="The deals' pipeline.")] = 0,
    stage: Annotated[str, typer.Option("--deal-stage", help="Their (won) stage.")] = "WON",
) -> None:
    """Link the portal to an iiko organization (the login is checked with iikoCloud first)."""
    settings = get_settings()

    async def go() -> None:
        async with open_services(settings) as services, httpx.AsyncClient() as http:
            client = IikoClient(http, url, api_key, organization)

            async def unit(conn):  # type: ignore[no-untyped-def]
                portal_id = await resolve_portal(conn, portal)
                return await connect(
                    conn,
                    client,
                    portal_id,
                    base_url=url,
                    api_login=api_key,
                    orders_as_deals=deals,
                    deal_category=category,
                    deal_stage=stage,
                )

            try:
                link = await run_in_transaction(services.engine, unit)
            except IikoError as exc:
                raise fail(f"iikoCloud refused: {exc.description}") from None
        out.print(f"portal {link.portal_id} linked to iiko organization {link.organization_id}")

    run(go())


@iiko_app.command("status")
def status(portal: PortalRef = None) -> None:
    """The link, each guest's wallet as last seen, pushes pending, till spends not honoured."""

    async def go() -> None:
        async with open_services(get_settings()) as services:
            async with services.engine.connect() as conn:
                link = await queries.link_of(conn, await resolve_portal(conn, portal))
                if link is None:
                    raise fail("this portal has no iiko link: `kopilka iiko connect`")
                rows = await queries.drift(conn, link.id)
                short = await queries.shortfalls(conn, link.id)
        out.print(f"organization {link.organization_id} ({link.status}) at {link.base_url}")
        for r in rows:
            waiting = f", {r.pending} push pending" if r.pending else ""
            out.print(
                f"  customer {r.customer_id} {r.phone}: wallet {_rub(r.wallet_balance)}{waiting}"
            )
        for s in short:
            short_by = _rub(s.shortfall)
            out.print(f"  not honoured: {s.name} {s.phone} short {short_by} ({s.transaction_id})")

    run(go())


@iiko_app.command("sync")
def sync(
    portal: PortalRef = None,
    customer: Annotated[int | None, typer.Option("--customer", help="Only this customer.")] = None,
) -> None:
    """Reconcile now: read the till's transactions back, then level every wallet."""
    settings = get_settings()

    async def go() -> None:
        async with open_services(settings) as services, httpx.AsyncClient() as http:
            async with services.engine.connect() as conn:
                link = await queries.link_of(conn, await resolve_portal(conn, portal))
            if link is None:
                raise fail("this portal has no iiko link: `kopilka iiko connect`")
            report = await sync_link(
                services.engine,
                client_for(http, link, settings),
                link,
                services.now,
                grace=timedelta(seconds=settings.iiko_push_grace_seconds),
                only=customer,
                b24=await bitrix24_of(services, link.portal_id),
            )
        if report.busy:
            raise fail("another reconcile of this restaurant is running")
        for x in report.levelled:
            note = f", till {x.till_posted}" if x.till_posted else ""
            note += f", SHORT {_rub(x.shortfall)}" if x.shortfall else ""
            note += ", push pending" if x.waiting else ""
            out.print(
                f"customer {x.customer_id}: wallet {_rub(x.wallet)} = {_rub(x.kopilka)}{note}"
            )
        if report.deals:
            out.print(f"{report.deals} closed orders made deals")
        if report.error:
            raise fail(f"stopped: {report.error}")

    run(go())


def register(app: typer.Typer) -> None:
    app.add_typer(iiko_app, name="iiko")
