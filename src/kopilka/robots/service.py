"""A robot call's job: decide the answer once (the action, through the ledger's own paths), then
tell the portal with ``bizproc.event.send``.

The answer is stored before it is sent, so a retried job sends the same one; the action is
keyed by the call (``StoredCall.key``), so a job run twice posts once. A refusal the manager must
read (:class:`~kopilka.robots.actions.Refused`, a limit of the program, an unknown reason) is an
answer too: ``error`` and the log message say why. A portal that cannot be reached fails the
job, which procrastinate retries. When the portal refuses the answer itself (``ACCESS_DENIED``:
the robot stopped waiting, or an earlier send did arrive), the call ends ``unanswered``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from kopilka.bitrix24.connections import Connection, get_connection
from kopilka.bitrix24.errors import B24AccessDenied, B24BadRequest, B24Error, B24NotFound
from kopilka.db.engine import run_in_transaction
from kopilka.domain.errors import KopilkaError
from kopilka.process.services import Services
from kopilka.robots import actions
from kopilka.robots.actions import Refused, Target
from kopilka.robots.queries import StoredCall, decide, finish, load_call
from kopilka.robots.schemas import BY_CODE, Answer

log = logging.getLogger("kopilka.robots")

Run = Callable[[Services, Connection, StoredCall, Target], Awaitable[Answer]]
RUNS: dict[str, Run] = {
    "accrue": actions.accrue,
    "pay": actions.pay,
    "card": actions.card,
    "balance": actions.balance_of,
}
#: the portal refused a command about the document: the manager's matter, not a retry's
REFUSALS = (B24NotFound, B24AccessDenied, B24BadRequest)


def refusal(reason: str) -> Answer:
    return Answer({"error": reason}, f"Копилка: не выполнено — {reason}", reason)


async def perform(services: Services, connection: Connection, call: StoredCall) -> Answer:
    action = BY_CODE.get(call.code)
    kind, _, number = call.document.rpartition("_")
    try:
        if action is None:
            raise Refused(f"Копилка не знает действия «{call.code}»")
        if kind not in ("DEAL", "CONTACT") or (kind == "CONTACT" and not action.on_contacts):
            raise Refused("это действие работает со сделками" + (
                " и контактами" if action.on_contacts else ""
            ))  # fmt: skip
        who = await actions.target(services, connection, kind, int(number))
        return await RUNS[action.name](services, connection, call, who)
    except REFUSALS as exc:
        return refusal(f"Bitrix24 отказал: {exc.description or exc.b24_error}")
    except B24Error:
        raise
    except KopilkaError as exc:  # Refused, a limit of the program, an unknown reason…
        return refusal(exc.message)


async def run_call(services: Services, call_id: int) -> str | None:
    """Do the call and answer it; its final state (None: nothing to do)."""
    async with services.engine.connect() as conn:
        call = await load_call(conn, call_id)
        if call is None or call.state != "pending":
            return None
        connection = await get_connection(conn, call.portal_id)
    if connection.status != "active":  # uninstalled meanwhile: the portal hears no more
        gone = refusal(f"портал {connection.domain} отключён от Копилки")

        async def end(conn: AsyncConnection) -> None:
            await decide(conn, call_id, gone)
            await finish(conn, call_id, "unanswered", services.now())

        await run_in_transaction(services.engine, end)
        return "unanswered"
    answer = call.answer
    if answer is None:
        decided = await perform(services, connection, call)
        answer = await run_in_transaction(services.engine, lambda c: decide(c, call_id, decided))
    state = "done"
    if call.subscribed:
        state = await _send(services, connection, call, answer)
    await run_in_transaction(services.engine, lambda c: finish(c, call_id, state, services.now()))
    log.info("robot call %s (%s on %s): %s", call_id, call.code, call.document, state)
    return state


async def _send(
    services: Services, connection: Connection, call: StoredCall, answer: Answer
) -> str:
    try:
        await services.client_for(connection).call(
            "bizproc.event.send",
            {
                "EVENT_TOKEN": call.event_token,
                "RETURN_VALUES": answer.values,
                "LOG_MESSAGE": answer.log,
            },
            write=True,
        )
    except B24AccessDenied:
        log.warning("robot call %s: the portal took no answer (it waits no more)", call.id)
        return "unanswered"
    return "answered"
