"""The four actions, each through the path the CLI, the API and the manager's own fields take:

* accrue — :func:`kopilka.bitrix24.bonuses.grant_on_portal` (the program's reasons and limits,
  the contact's fields and timeline), keyed by the call;
* pay — the deal's «pay with points» field written as the sync's write-back writes a deal
  (``crm.deal.update`` through the outbox), then the deal settled by a sync of the portal: the
  engine caps the payment and holds it, and what the ledger holds is what was applied;
* card — :func:`kopilka.cards.service.issue_by_hand`;
* balance — the ledger, the level by the recorded history, the active card, and the most the
  deal may pay (the engine's cap, as the deal's field shows it).

On a deal the customer is its payer (:func:`kopilka.bitrix24.sync.shown.payer_of`), as the deal
was last settled: the deal is synced first, so that is now. A refusal the manager must read
raises :class:`Refused`; anything else the portal did is left to the job's retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.b24app.texts import translator
from kopilka.bitrix24.bonuses import grant_comment, grant_on_portal
from kopilka.bitrix24.connections import Connection, portal_program
from kopilka.bitrix24.daily import flush
from kopilka.bitrix24.deal_ask import AskRefused, ask
from kopilka.bitrix24.deal_view import DealNotShown
from kopilka.bitrix24.errors import B24NotFound
from kopilka.bitrix24.mapping import to_kopecks
from kopilka.bitrix24.standing import histories
from kopilka.bitrix24.sync import mark_dirty
from kopilka.bitrix24.sync.shown import payer_of
from kopilka.bitrix24.writeback import points_value
from kopilka.cards.service import ContactNotFound, active_card, issue_by_hand
from kopilka.db.engine import run_in_transaction
from kopilka.db.tables import b24_deals
from kopilka.domain.campaigns import share_for
from kopilka.domain.deal import Deal
from kopilka.domain.deal_codec import decode
from kopilka.domain.effects import LevelStatus
from kopilka.domain.eligibility import basket
from kopilka.domain.errors import KopilkaError, UnknownCustomer
from kopilka.domain.levels import metric_of, status_for
from kopilka.domain.money import format_points
from kopilka.domain.redemption import payable_cap
from kopilka.domain.texts import points
from kopilka.ledger.book import get_customer_id
from kopilka.ledger.deals.execute import deal_reference
from kopilka.ledger.deals.state import read_deal_ledger, spendable_for_deal
from kopilka.ledger.queries import balance
from kopilka.process.services import Services
from kopilka.program.model import Program
from kopilka.robots.queries import StoredCall
from kopilka.robots.schemas import Answer


class Refused(KopilkaError):
    """The action cannot be done; the message is for the manager (Russian)."""

    code = "robot_refused"


@dataclass(frozen=True)
class Target:
    """Whom the call is about: a contact, and the deal when the document is one."""

    contact_id: int
    deal: Deal | None = None


def amount_of(raw: str, *, required: bool) -> int | None:
    if not raw.strip():
        if required:
            raise Refused("не указано, сколько бонусов")
        return None
    try:
        value = to_kopecks(raw)
    except ValueError:
        raise Refused(f"«{raw[:40]}» — не число бонусов") from None
    if value < 0:
        raise Refused("число бонусов не может быть отрицательным")
    return value


async def settled_deal(services: Services, connection: Connection, deal_id: int) -> Deal:
    """The deal as a sync of the portal settles it now."""
    await run_in_transaction(
        services.engine, lambda conn: mark_dirty(conn, connection.portal_id, [deal_id], "robot")
    )
    await flush(services, connection)
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(b24_deals.c.engine_input, b24_deals.c.semantic).where(
                    b24_deals.c.portal_id == connection.portal_id, b24_deals.c.deal_id == deal_id
                )
            )
        ).first()
    if row is None or row.engine_input is None or row.semantic == "D":  # D: deleted
        raise Refused(f"сделка {deal_id} не найдена в портале")
    return decode(row.engine_input)


async def target(services: Services, connection: Connection, kind: str, number: int) -> Target:
    if kind == "CONTACT":
        try:
            await services.client_for(connection).call("crm.contact.get", {"id": number})
        except B24NotFound:
            raise Refused(f"контакт {number} не найден в портале") from None
        return Target(number)
    deal = await settled_deal(services, connection, number)
    payer = payer_of(deal)
    if payer is None:
        raise Refused(f"у сделки {number} нет контакта-покупателя")
    return Target(payer, deal)


def _actor(call: StoredCall) -> str:
    who = f", пользователь Bitrix24 {call.user_id}" if call.user_id else ""
    return f"робот Bitrix24 ({call.code}{who})"


async def available(
    conn: AsyncConnection, connection: Connection, contact_id: int, now: datetime
) -> tuple[int, int | None]:
    """(the contact's available points, its customer id; None before its first entry)."""
    book, _program = await portal_program(conn, connection, now)
    try:
        customer = await get_customer_id(conn, connection.portal_id, f"contact:{contact_id}")
    except UnknownCustomer:
        return 0, None
    return (await balance(conn, book, customer, now)).available, customer


async def accrue(
    services: Services, connection: Connection, call: StoredCall, who: Target
) -> Answer:
    props = call.properties
    reason = props.get("reason", "").strip()
    if not reason:
        raise Refused("не указана причина бонуса (код из программы)")
    now = services.now()
    posted, _sent = await grant_on_portal(
        services,
        connection,
        contact_id=who.contact_id,
        reason=reason,
        amount=amount_of(props.get("amount", ""), required=False),
        actor=_actor(call),
        key=call.key,
        now=now,
        comment=props.get("comment", "").strip() or None,
    )
    async with services.engine.connect() as conn:
        _book, program = await portal_program(conn, connection, now)
        points_now, _customer = await available(conn, connection, who.contact_id, now)
    said = grant_comment(posted, program.locale)
    return Answer({"balance": points_value(points_now), "error": ""}, said)


async def pay(services: Services, connection: Connection, call: StoredCall, who: Target) -> Answer:
    assert who.deal is not None
    deal_id = who.deal.id
    asked = amount_of(call.properties.get("amount", ""), required=True) or 0
    async with services.engine.connect() as conn:
        book, program = await portal_program(conn, connection, services.now())

    async def record(conn: AsyncConnection) -> None:  # as the deal tab asks: one input
        await ask(
            conn,
            connection.portal_id,
            deal_id,
            None,  # the deal's payer
            points=asked,
            discounts={},
            actor=_actor(call),
            key=call.key,
            now=services.now(),
            up_to_cap=True,
        )

    t = translator("en" if program.locale == "en" else "ru")
    try:
        await run_in_transaction(services.engine, record)
    except AskRefused as exc:
        values = {k: format_points(v) if k in ("cap", "step") else v for k, v in exc.values.items()}
        raise Refused(t("ask." + exc.reason, **values)) from None
    except DealNotShown as exc:
        raise Refused(t("deal." + exc.reason)) from None
    await flush(services, connection)  # the field is on the deal ...
    await settled_deal(services, connection, deal_id)  # ... and the deal settled with it
    now = services.now()
    async with services.engine.connect() as conn:
        state = await read_deal_ledger(conn, book, deal_reference(deal_id))
        points_now, _customer = await available(conn, connection, who.contact_id, now)
    applied = (state.active_hold.amount if state.active_hold else 0) + sum(
        c.amount for c in state.captures
    )
    said = f"Копилка: в оплату сделки {points(program.locale, applied)}"
    if applied < asked:
        said += f" из {points(program.locale, asked)} — больше программа и баланс не позволяют"
    values = {"applied": points_value(applied), "balance": points_value(points_now), "error": ""}
    return Answer(values, said)


_CARD_REFUSED = {
    "no_phone": "у контакта нет телефона",
    "bad_phone": "телефон контакта — не номер",
    "taken": "этот телефон уже на карте другого покупателя (контакт {other})",
    "incomplete": "у контакта заполнены не все поля для карты",
}


async def card(services: Services, connection: Connection, call: StoredCall, who: Target) -> Answer:
    try:
        outcome = await issue_by_hand(
            services, connection.portal_id, who.contact_id, actor=_actor(call)
        )
    except ContactNotFound:
        raise Refused(f"контакт {who.contact_id} не найден в портале") from None
    if outcome.number is None or outcome.status not in ("issued", "exists"):
        text = _CARD_REFUSED.get(outcome.status, outcome.status)
        raise Refused(text.format(other=outcome.other_contact or "?"))
    said = "выдана карта" if outcome.status == "issued" else "карта уже есть"
    return Answer({"card_number": outcome.number, "error": ""}, f"Копилка: {said} {outcome.number}")


async def balance_of(
    services: Services, connection: Connection, call: StoredCall, who: Target
) -> Answer:
    now = services.now()
    async with services.engine.connect() as conn:
        book, program = await portal_program(conn, connection, now)
        points_now, customer = await available(conn, connection, who.contact_id, now)
        number = await active_card(conn, customer) if customer is not None else None
        status = None
        if program.levels is not None:
            known = await histories(conn, connection.portal_id, program, [who.contact_id], now=now)
            metric = metric_of(program, program.levels, known[who.contact_id])
            status = status_for(program.levels, metric)
        payable = None
        if who.deal is not None:
            spendable = 0
            if customer is not None:
                spendable = await spendable_for_deal(
                    conn, book, deal_reference(who.deal.id), customer, now
                )
            share = await _campaign_share(conn, connection, program, who, status, now)
            if share is None:
                share = status.payable_share if status else None
            order = basket(program, who.deal).order_amount
            payable = payable_cap(program, who.deal, order, share, spendable)
            if who.deal.stage != "process":  # a closed deal pays no more
                payable = 0
    level = (status.title or "") if status else ""
    values = {
        "balance": points_value(points_now),
        "level": level,
        "card_number": number or "",
        "max_payable": points_value(payable) if payable is not None else "",
        "error": "",
    }
    said = f"Копилка: баланс {points(program.locale, points_now)}"
    if payable is not None:
        said += f", можно списать в сделке {points(program.locale, payable)}"
    return Answer(values, said)


async def _campaign_share(
    conn: AsyncConnection,
    connection: Connection,
    program: Program,
    who: Target,
    status: LevelStatus | None,
    now: datetime,
) -> Decimal | None:
    """The share a campaign on lets the payer pay on the deal (None: none sets one)."""
    assert who.deal is not None
    payer = next((c for c in who.deal.contacts if c.id == who.contact_id), None)
    if payer is None or not program.campaigns:
        return None
    seen = await histories(conn, connection.portal_id, program, [who.contact_id], now=now)
    level = status.level_id if status else None
    return share_for(program, who.deal, payer, seen[who.contact_id], level, now)
