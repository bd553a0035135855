"""`kopilka sync --all` killed midway (issue 21, item 3): run again, it continues where it stopped
— only the deals not yet checked are read — and posts nothing twice."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from b24emu import EmuServer, Portal
from b24emu.registry import REGISTRY, Call
from kopilka.process.devstack import emulated_portal
from tests.e2e.conftest import kopilka

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "retail-wholesale.yaml")
DEALS = 120
CHUNK = 40


def ok(*args: str) -> str:
    code, output = kopilka(*args)
    assert code == 0, output
    return output


def win(portal: Portal, contact: int, amount: str) -> int:
    deal = portal.call(
        "crm.deal.add",
        {"fields": {"STAGE_ID": "NEW", "CONTACT_ID": contact, "OPPORTUNITY": amount}},
    )["result"]
    portal.call("crm.deal.update", {"id": deal, "fields": {"STAGE_ID": "WON"}})
    return int(deal)


class Gate:
    """Holds every ``crm.deal.list`` that reads a deal past the first chunk until opened."""

    def __init__(self, first_chunk: set[int]) -> None:
        self.first_chunk = first_chunk
        self.reached = threading.Event()
        self.opened = threading.Event()

    def wrap(self, func: Any) -> Any:
        def gated(call: Call) -> Any:
            wanted = (call.params.get("filter") or {}).get("@ID") or []
            ids = {int(v) for v in (wanted.values() if isinstance(wanted, dict) else wanted)}
            if ids - self.first_chunk and not self.opened.is_set():
                self.reached.set()
                self.opened.wait(120)
            return func(call)

        return gated


@pytest.fixture
def gated_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate(set())
    spec = REGISTRY["crm.deal.list"]
    monkeypatch.setitem(
        REGISTRY, "crm.deal.list", dataclasses.replace(spec, func=gate.wrap(spec.func))
    )
    yield gate
    gate.opened.set()


def ledger(database: str) -> tuple[int, int, int, Any]:
    with psycopg.connect(database.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM ledger_transactions WHERE kind = 'accrual'),"
            " (SELECT count(DISTINCT reference) FROM ledger_transactions WHERE kind = 'accrual'),"
            " (SELECT count(*) FROM b24_deals),"
            " (SELECT backfill_started_at FROM b24_sync_state)"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_a_killed_backfill_continues_where_it_stopped(database: str, gated_list: Gate) -> None:
    portal = emulated_portal()
    with EmuServer(portal):
        contacts = [
            int(
                portal.call("crm.contact.add", {"fields": {"NAME": n, "TYPE_ID": "CLIENT"}})[
                    "result"
                ]
            )
            for n in ("Анна", "Олег", "Пётр")
        ]
        deals = [win(portal, contacts[i % 3], str(1000 + 10 * i)) for i in range(DEALS)]
        gated_list.first_chunk.update(deals[:CHUNK])  # won today: close order is id order
        webhook = portal.add_webhook(user_id=1, scopes=("crm", "user"))
        token = portal.add_outgoing_webhook("http://127.0.0.1:9/b24/events", ("ONCRMDEALUPDATE",))
        out = ok("connect", "--webhook", webhook, "--event-token", token, "-p", EXAMPLE,
                 "--member-id", portal.member_id)  # fmt: skip
        assert re.search(r"connected portal \d+", out), out
        ok("provision")

        proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "kopilka", "sync", "--all", "--chunk", str(CHUNK)],
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert gated_list.reached.wait(120), "the backfill never got past its first chunk"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        gated_list.opened.set()
        accruals, _, synced, started = ledger(database)
        assert (accruals, synced) == (CHUNK, CHUNK)  # the first chunk settled, then the kill
        assert started is not None  # an interrupted backfill, on record

        out = ok("sync", "--all", "--chunk", str(CHUNK))
        assert f"{DEALS - CHUNK} deals checked" in out, out  # only those not checked before
        assert ledger(database) == (DEALS, DEALS, DEALS, None)  # each deal accrued once

        out = ok("sync", "--all", "--chunk", str(CHUNK))  # finished: a new one checks them all
        assert f"{DEALS} deals checked, 0 postings" in out, out
        assert ledger(database) == (DEALS, DEALS, DEALS, None)
