"""One accrual or redemption in one round trip: the server-side statement on a bare connection.

Through a unit of work (:func:`kopilka.db.engine.run_in_transaction`) a single command costs
``BEGIN``, the statement and ``COMMIT``, and the client layers around each: about 0.4 ms of
client CPU for an empty transaction, measured (bench/ledger). A till or an integration that
posts one command at a time at a high rate can instead hold psycopg connections in autocommit
mode: there the statement is its own transaction, its deferred checks run at its end, and the
command is one round trip. What is checked is the same — it is the same statement
(:mod:`kopilka.ledger.server`). A command whose answer is lost may be sent again with its key:
it comes back as a replay.
"""

from __future__ import annotations

from typing import Any

import psycopg

from kopilka.domain.errors import InsufficientPoints
from kopilka.ledger import server
from kopilka.ledger.accrual import AccrualRequest
from kopilka.ledger.spending import RedemptionRequest
from kopilka.ledger.types import Book, Posted

Connection = psycopg.AsyncConnection[Any]


async def connect(conninfo: str) -> Connection:
    """A connection for single commands: autocommit, so that each statement commits itself."""
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=True)


async def accrue(conn: Connection, book: Book, request: AccrualRequest) -> Posted:
    command = request.command()
    params = server.accrual_params(book, [request.customer_id], [request.amount], [command])
    rows = await (await conn.execute(server.ACCRUE, params)).fetchall()
    (result,) = server.outcomes(rows, [command])
    assert isinstance(result, Posted)
    return result


async def redeem(conn: Connection, book: Book, request: RedemptionRequest) -> Posted:
    """Raises :class:`InsufficientPoints` (nothing written) when the customer cannot afford it."""
    command = request.command()
    params = server.redemption_params(book, [request.customer_id], [request.amount], [command])
    rows = await (await conn.execute(server.REDEEM, params)).fetchall()
    (result,) = server.outcomes(rows, [command])
    if isinstance(result, InsufficientPoints):
        raise result
    return result
