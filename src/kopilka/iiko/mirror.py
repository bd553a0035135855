"""One guest's wallet brought level with Kopilka: the guest found or made by phone, the till's
transactions read back since the stored revision and posted, pushes settled, and only then the
difference written — recorded first, so that a push whose answer was lost is never sent again.

The push key is the push row's id, carried in the transaction's comment (``kopilka:push:<id>``):
iiko has no idempotency key, so a push left ``pending`` is settled by finding that comment among
the wallet's transactions. While one is pending and younger than the grace period nothing more
is written to that wallet (it may still land); past it, unseen, it is ``lost``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.api.portal import contact_id_of, current_program, customer_by_id
from kopilka.bitrix24.daily.common import serialise_with_sync
from kopilka.bitrix24.deferred import defer_sync
from kopilka.bitrix24.writeback import refresh_contacts
from kopilka.db.engine import run_in_transaction
from kopilka.iiko import queries
from kopilka.iiko.client import IikoClient, TransactionPage
from kopilka.iiko.errors import (
    IikoRateLimited,
    IikoRejected,
    IikoTimeout,
    IikoUnauthorized,
    IikoUnavailable,
)
from kopilka.iiko.till import post_till_transaction
from kopilka.ledger.queries import balance

PUSH_COMMENT = re.compile(r"^kopilka:push:(\d+)\b")
PAGE = 100


@dataclass(frozen=True, slots=True)
class Levelled:
    customer_id: int
    wallet: int  # kopecks on the wallet after this run (as far as Kopilka knows)
    kopilka: int  # the available balance it mirrors
    pushed: int  # signed kopecks written this run
    till_posted: int  # till transactions posted this run
    shortfall: int  # kopecks of till spends Kopilka could not honour
    waiting: bool = False  # a push is pending: not levelled this run


async def contact_of(conn: AsyncConnection, portal_id: int, customer_id: int) -> int | None:
    return contact_id_of((await customer_by_id(conn, portal_id, customer_id)).external_id)


async def ensure_guest(
    engine: AsyncEngine,
    client: IikoClient,
    link: queries.Link,
    customer_id: int,
    phone: str,
    name: str,
    now: datetime,
) -> queries.Mirrored:
    """The guest mirrored for this customer; made (by phone: the card number) on first sight.
    The wallet's history before the link is not Kopilka's: reading starts after it."""

    async def known(conn: AsyncConnection) -> queries.Mirrored | None:
        return await queries.mirrored(conn, link.id, customer_id)

    found = await run_in_transaction(engine, known)
    if found is not None:
        return found
    guest = await client.guest_by_phone(phone)
    guest_id = guest.id if guest is not None else await client.create_or_update(phone, name)
    guest = await client.guest_by_id(guest_id)
    if guest.wallet_id is None:
        raise IikoRejected(400, "the guest has no bonus wallet: add the program in iikoWeb")
    revision = 0
    while True:  # skip what happened before the link
        page = await client.transactions(guest_id, revision, PAGE)
        if not page.transactions:
            break
        revision = page.last_revision
    mirror = queries.Mirrored(
        customer_id, guest_id, guest.wallet_id, phone, guest.balance, revision
    )

    async def add(conn: AsyncConnection) -> queries.Mirrored:
        await queries.add_mirrored(conn, link.id, customer_id, mirror)
        return await queries.mirrored(conn, link.id, customer_id) or mirror

    return await run_in_transaction(engine, add)


async def pull(
    engine: AsyncEngine,
    client: IikoClient,
    link: queries.Link,
    guest: queries.Mirrored,
    now: datetime,
) -> tuple[int, int, int]:
    """Read the wallet's transactions since the stored revision, page by page, each page posted
    and its revision stored in one transaction (a crash resumes where it stopped). Returns
    (till transactions posted, shortfall, the revision reached)."""
    posted = shortfall = 0
    revision = guest.revision
    while True:
        page = await client.transactions(guest.guest_id, revision, PAGE)
        if not page.transactions:
            return posted, shortfall, revision

        async def unit(conn: AsyncConnection, page: TransactionPage = page) -> tuple[int, int]:
            tills = any(PUSH_COMMENT.match(tx.comment) is None for tx in page.transactions)
            contact = await contact_of(conn, link.portal_id, guest.customer_id) if tills else None
            if contact is not None:  # the contact's fields are recomputed below
                await serialise_with_sync(conn, link.portal_id)
            book, program = await current_program(conn, link.portal_id)
            n = short = 0
            for tx in page.transactions:
                ours = PUSH_COMMENT.match(tx.comment)
                if ours is not None:
                    await queries.settle_push(conn, int(ours.group(1)), "landed", now)
                    continue
                short += await post_till_transaction(conn, book, link, guest.customer_id, tx, now)
                n += 1
            await queries.set_wallet(
                conn, link.id, guest.customer_id, now, revision=page.last_revision
            )
            if n and contact is not None:  # Bitrix24 shows the till's spend on the contact
                await refresh_contacts(conn, book, program, link.portal_id, [contact], now)
                await defer_sync(conn, link.portal_id)
            return n, short

        n, short = await run_in_transaction(engine, unit)
        posted, shortfall, revision = posted + n, shortfall + short, page.last_revision


async def level(
    engine: AsyncEngine,
    client: IikoClient,
    link: queries.Link,
    guest: queries.Mirrored,
    clock: Callable[[], datetime],
    *,
    grace: timedelta,
) -> Levelled:
    """Pull, then write the difference between Kopilka's available balance and the wallet."""
    now = clock()
    posted, shortfall, revision = await pull(engine, client, link, guest, now)
    for _ in range(3):  # the till may move the wallet between the pull and the read: again
        wallet = (await client.guest_by_id(guest.guest_id)).balance
        read_at = revision
        more, more_short, revision = await pull(
            engine, client, link, replace(guest, revision=read_at), now
        )
        posted, shortfall = posted + more, shortfall + more_short
        if revision == read_at:
            break

    async def decide(conn: AsyncConnection) -> tuple[int, queries.Push | None, bool]:
        await queries.mirrored(conn, link.id, guest.customer_id, lock=True)
        pending = await queries.pending_push(conn, link.id, guest.customer_id)
        book, _ = await current_program(conn, link.portal_id)
        target = (await balance(conn, book, guest.customer_id, now)).available
        if pending is not None:
            if now - pending.created_at < grace:
                return target, None, True  # may still land: wait
            await queries.settle_push(conn, pending.id, "lost", now)
        await queries.set_wallet(conn, link.id, guest.customer_id, now, balance=wallet)
        if target == wallet:
            return target, None, False
        return (
            target,
            await queries.new_push(conn, link.id, guest.customer_id, wallet, target, now),
            False,
        )

    target, push, waiting = await run_in_transaction(engine, decide)
    if push is None:
        return Levelled(guest.customer_id, wallet, target, 0, posted, shortfall, waiting)
    try:
        await client.move(
            push.kind, guest.guest_id, guest.wallet_id, push.amount, f"kopilka:push:{push.id}"
        )
    except (IikoTimeout, IikoUnavailable) as exc:
        if isinstance(exc, IikoUnavailable) and exc.status == 0:
            await _settle(engine, push.id, "lost", now)  # never reached iiko
        raise  # otherwise left pending: the next run reads it back
    except (IikoRejected, IikoRateLimited, IikoUnauthorized):
        await _settle(engine, push.id, "lost", now)  # refused: nothing was written
        raise
    await _settle(engine, push.id, "landed", now, link.id, guest.customer_id, push.after)
    moved = push.after - push.before
    return Levelled(guest.customer_id, push.after, target, moved, posted, shortfall)


async def _settle(
    engine: AsyncEngine,
    push_id: int,
    status: str,
    now: datetime,
    link_id: int | None = None,
    customer_id: int | None = None,
    wallet: int | None = None,
) -> None:
    async def unit(conn: AsyncConnection) -> None:
        await queries.settle_push(conn, push_id, status, now)
        if link_id is not None and customer_id is not None:
            await queries.set_wallet(conn, link_id, customer_id, now, balance=wallet)

    await run_in_transaction(engine, unit)
