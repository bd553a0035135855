"""Issue 16, "Survive and recover by itself": the embedded PostgreSQL killed under a running
`kopilka serve` in the middle of a burst of Bitrix24 events. Without anyone touching Kopilka it
starts the server again, the worker reconnects and sweeps, and every deal is settled exactly
once; meanwhile `/healthz` said so and the API and `/b24/events` answered 503 with Retry-After.
SIGTERM then stops the process and the embedded server it started."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.db.embedded import server_pid
from kopilka.db.engine import create_engine
from kopilka.db.tables import b24_sync_state, ledger_transactions
from kopilka.process.devstack import free_socket
from tests.b24harness import kopilka_on_emulator

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

BALANCE = "UF_CRM_KOP_BALANCE"
DEALS = 24


def postgres_processes(data: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and str(data) in cmdline:
            found.append(proc)
    return found


@contextmanager
def kopilka_serve(data: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KOPILKA_DATA_DIR": str(data),
        "KOPILKA_WORKER_HEARTBEAT": "0.5",
        "KOPILKA_WORKER_STALLED_AFTER": "3",
        "KOPILKA_B24_INTERVAL": "0.05",
        "KOPILKA_EMBEDDED_CHECK_INTERVAL": "4",
        "KOPILKA_RECONNECT_MAX_DELAY": "1",
        "KOPILKA_DB_RETRY_AFTER": "7",
    }
    env.pop("KOPILKA_DATABASE_URL", None)  # the embedded server, in `data`
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "kopilka", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for leftover in postgres_processes(data):  # never leave a server behind
                leftover.kill()


async def wait_status(url: str, status: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(url)).status_code == status:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered {status}"
            await asyncio.sleep(0.05)


@pytest.fixture
def folder() -> Iterator[Path]:
    """Not pytest's tmp_path: its parents are private to root, and the embedded server may run
    as its own OS user (as in tests/conftest.py)."""
    tmp = Path(tempfile.mkdtemp(prefix="kopilka-outage-"))
    os.chmod(tmp, 0o755)  # noqa: S103
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


async def swept_since(engine: AsyncEngine, moment: datetime, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with engine.connect() as conn:
            last = await conn.scalar(select(func.max(b24_sync_state.c.last_sweep_at)))
        if last is not None and last > moment:
            return
        assert time.monotonic() < deadline, f"no sweep since {moment} (last: {last})"
        await asyncio.sleep(0.1)


async def test_database_killed_mid_burst_recovers_and_sigterm_stops_it(folder: Path) -> None:
    data = folder / "k"
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    log = folder / "serve.log"
    with kopilka_serve(data, port, log) as proc:
        await wait_status(f"{base}/healthz", 200)
        engine = create_engine(f"postgresql+psycopg://postgres@/kopilka?host={data / 'postgres'}")
        try:
            async with kopilka_on_emulator(engine, worker=False, elsewhere=base) as h:
                contacts = [h.add_contact(f"Клиент {i}") for i in range(DEALS)]
                deals = [h.add_deal(c, "10000") for c in contacts]
                await h.settle()
                no_key = {"Authorization": "Bearer not-a-key"}
                async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                    assert (
                        await http.get("/api/v1/customers?phone=1", headers=no_key)
                    ).status_code == 401

                    postmaster = server_pid(data)
                    assert postmaster is not None
                    for n, deal in enumerate(deals):  # the burst: each win is an event
                        h.move(deal, "WON")
                        if n == DEALS // 3:
                            os.kill(postmaster, signal.SIGKILL)  # the database is gone
                            killed_at = datetime.now(UTC)
                    await wait_status(f"{base}/healthz", 503, timeout=10)
                    api = await http.get("/api/v1/customers?phone=1", headers=no_key)
                    event = await http.post("/b24/events", data={"event": "ONCRMDEALUPDATE"})
                    health = await http.get("/healthz")
                assert (api.status_code, api.headers["retry-after"]) == (503, "7")
                assert api.json()["error"]["code"] == "database_unavailable"
                assert (event.status_code, event.headers["retry-after"]) == (503, "7")
                assert health.status_code == 503
                assert health.json()["status"] == "database unavailable"

                # Kopilka starts the server again by itself; nothing here touches it.
                await wait_status(f"{base}/healthz", 200, timeout=60)
                assert server_pid(data) not in (None, postmaster)
                await h.portal.flush_events()
                assert h.portal.stats.events_failed > 0  # events were refused meanwhile…
                await engine.dispose()  # (this test's own connections died with the server)
                await swept_since(engine, killed_at)
                await h.settle(timeout=90)  # …and the sweep repaired them
                for contact in contacts:
                    assert (await h.balance(contact)).available == 500_00
                    assert str(h.contact(contact).get(BALANCE)) == "500"
                async with engine.connect() as conn:
                    accruals = await conn.scalar(
                        select(func.count())
                        .select_from(ledger_transactions)
                        .where(ledger_transactions.c.kind == "accrual")
                    )
                assert accruals == DEALS  # exactly once each
        finally:
            await engine.dispose()
        assert proc.poll() is None  # it stayed up through all of it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        assert postgres_processes(data) == []
        assert server_pid(data) is None
