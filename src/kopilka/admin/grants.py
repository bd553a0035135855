"""Manual grants in the admin (issue 18), through the ledger's own path (``ledger.grants``, as the
API and the Bitrix24 tab): the program's limits per reason, the person's own limit (the same
:class:`~kopilka.domain.manual.Granter` mechanism), and maker-checker above a threshold.

* Up to ``admin_grant_approval_above`` points a grant is posted at once.
* Above it the grant is first tried in a savepoint — the same checks, nothing kept — and, if
  allowed, waits as a request; an owner who is not its maker approves it (the maker's limit is
  counted again then) or rejects it. The request row is locked while it is decided and the grant
  is posted under the key ``admin-request:<id>``: two clicks or two owners post it once.
* A portal contact's card and timeline show the grant as they do for every other path.
Every step is recorded in the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.admin.auth import AdminSession
from kopilka.admin.users import user_by_id
from kopilka.api.portal import contact_id_of, current_program
from kopilka.audit import record
from kopilka.b24app.permissions import granter_of
from kopilka.bitrix24.bonuses import reflect_grant
from kopilka.bitrix24.connections import is_connected
from kopilka.bitrix24.daily import serialise_with_sync
from kopilka.bitrix24.deferred import defer_sync
from kopilka.db.tables import admin_grant_requests, customers
from kopilka.domain.errors import Conflict, KopilkaError, NotFound
from kopilka.domain.manual import Granter, GranterLimit, ManualGrantRefused
from kopilka.ledger.grants import grant
from kopilka.ledger.types import Posted
from kopilka.program.policies import GrantPeriod


class NotAllowed(KopilkaError):
    """The person's role does not allow it."""

    code = "not_allowed"


class RequestDecided(Conflict):
    code = "request_decided"


class OwnRequest(NotAllowed):
    code = "own_request"


@dataclass(frozen=True, slots=True)
class Outcome:
    posted: Posted | None = None
    request_id: int | None = None


async def granter_for(conn: AsyncConnection, user_id: int, portal_id: int) -> Granter:
    """The person a grant is counted against: a Bitrix24 owner as the portal names them (one
    person, one limit, whichever surface they grant from); an admin user by their membership."""
    user = await user_by_id(conn, user_id)
    if user.b24_user_id is not None:
        return await granter_of(conn, portal_id, user.b24_user_id, is_admin=True)
    m = next((m for m in user.memberships if m.portal_id == portal_id), None)
    limit = None
    if m is not None and m.grant_limit is not None:
        limit = GranterLimit(m.grant_limit, GrantPeriod(kind=m.grant_period), f"admin:{user.id}")
    return Granter(f"admin:user:{user.id}", limit)


async def _post(
    conn: AsyncConnection,
    portal_id: int,
    customer_id: int,
    *,
    reason: str,
    amount: int | None,
    comment: str,
    actor: str,
    granter: Granter,
    key: str,
    now: datetime,
) -> Posted:
    connected = await is_connected(conn, portal_id)
    if connected:  # the contact's fields are recomputed: not alongside a running sync
        await serialise_with_sync(conn, portal_id)
    book, program = await current_program(conn, portal_id)
    external = await conn.scalar(
        select(customers.c.external_id).where(
            customers.c.id == customer_id, customers.c.portal_id == portal_id
        )
    )
    if external is None:
        raise NotFound(f"no customer #{customer_id} in this portal")
    posted = await grant(
        conn,
        book,
        program,
        customer_id=customer_id,
        reason=reason,
        amount=amount,
        actor=actor,
        key=key,
        now=now,
        comment=comment or None,
        source="admin",
        granter=granter,
    )
    contact = contact_id_of(external) if connected else None
    if contact is not None:
        await reflect_grant(conn, book, program, portal_id, contact, posted, now)
        await defer_sync(conn, portal_id)
    return posted


async def grant_or_request(
    conn: AsyncConnection,
    session: AdminSession,
    *,
    customer_id: int,
    reason: str,
    amount: int | None,
    comment: str,
    key: str,
    threshold: int,
    now: datetime,
) -> Outcome:
    """Post the grant, or (above ``threshold`` kopecks) make it a request; refusals raise
    ``ManualGrantRefused`` and write nothing."""
    if session.user_id is None or not session.may("grant"):
        raise NotAllowed("this user may not grant points")
    portal_id = session.portal_id
    _book, program = await current_program(conn, portal_id)
    bonus = program.manual_bonuses.get(reason)
    if amount is None and bonus is not None:
        amount = bonus.default_amount
    granter = await granter_for(conn, session.user_id, portal_id)
    post = partial(
        _post,
        conn,
        portal_id,
        customer_id,
        reason=reason,
        comment=comment,
        actor=session.actor,
        granter=granter,
        now=now,
    )
    if amount is None or amount <= threshold:
        posted = await post(amount=amount, key=key)
        await _audit_posted(conn, session.actor, portal_id, customer_id, posted, comment)
        return Outcome(posted=posted)
    r = admin_grant_requests.c
    earlier = await conn.scalar(select(r.id).where(r.request_key == key))
    if earlier is not None:  # the same form sent twice: one request
        return Outcome(request_id=int(earlier))
    trial = await conn.begin_nested()  # the same checks as the real posting, nothing kept
    try:
        await post(amount=amount, key=f"trial:{key}")
    finally:
        await trial.rollback()
    request_id = await conn.scalar(
        insert(admin_grant_requests)
        .values(
            portal_id=portal_id,
            customer_id=customer_id,
            reason=reason,
            amount=amount,
            comment=comment,
            requested_by=session.user_id,
            requested_at=now,
            request_key=key,
        )
        .returning(admin_grant_requests.c.id)
    )
    assert request_id is not None
    details = {
        "request": int(request_id),
        "reason": reason,
        "amount": amount,
        "threshold": threshold,
    }
    await record(
        conn,
        session.actor,
        "grant.requested",
        f"customer:{customer_id}",
        details,
        comment,
        portal_id=portal_id,
        at=now,
    )
    return Outcome(request_id=int(request_id))


async def _audit_posted(
    conn: AsyncConnection, actor: str, portal_id: int, customer_id: int, posted: Posted, why: str
) -> None:
    if posted.replayed:
        return
    earned = sum(leg.amount for leg in posted.legs if leg.account_kind == "customer")
    details = {"transaction": posted.id, "amount": earned, "rule": posted.rule_id}
    await record(
        conn,
        actor,
        "grant.posted",
        f"customer:{customer_id}",
        details,
        why,
        portal_id=portal_id,
        at=posted.effective_at,
    )


async def _pending(conn: AsyncConnection, portal_id: int, request_id: int) -> Any:
    r = admin_grant_requests.c
    row = (
        await conn.execute(
            select(admin_grant_requests)
            .where(r.id == request_id, r.portal_id == portal_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"no grant request #{request_id} in this portal")
    if row.status != "pending":
        raise RequestDecided(f"request #{request_id} was already {row.status}")
    return row


async def decide(
    conn: AsyncConnection,
    session: AdminSession,
    request_id: int,
    *,
    approve: bool,
    note: str,
    now: datetime,
) -> Posted | None:
    """Approve (post, exactly once) or reject a waiting grant: an owner, not its maker."""
    if session.user_id is None or not session.may("approve"):
        raise NotAllowed("only an owner approves grants")
    row = await _pending(conn, session.portal_id, request_id)
    maker = int(row.requested_by)
    if maker == session.user_id:
        raise OwnRequest("a grant is approved by someone other than the person who asked for it")
    r = admin_grant_requests.c
    posted = None
    values: dict[str, object] = {"decided_by": session.user_id, "decided_at": now}
    if approve:
        maker_user = await user_by_id(conn, maker)
        posted = await _post(
            conn,
            session.portal_id,
            int(row.customer_id),
            reason=row.reason,
            amount=int(row.amount),
            comment=row.comment,
            actor=f"admin:{maker_user.login} ✓ {session.actor}",
            granter=await granter_for(conn, maker, session.portal_id),
            key=f"admin-request:{request_id}",
            now=now,
        )
        values |= {"status": "approved", "transaction_id": posted.id}
    else:
        values["status"] = "rejected"
    await conn.execute(update(admin_grant_requests).where(r.id == request_id).values(**values))
    details: dict[str, object] = {"request": request_id, "amount": int(row.amount)}
    if posted is not None:
        details["transaction"] = posted.id
    await record(
        conn,
        session.actor,
        "grant.approved" if approve else "grant.rejected",
        f"customer:{row.customer_id}",
        details,
        note,
        portal_id=session.portal_id,
        at=now,
    )
    return posted


__all__ = ["ManualGrantRefused", "Outcome", "decide", "grant_or_request", "granter_for"]
