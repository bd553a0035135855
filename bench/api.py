"""The public API's balance lookup under load, as a ratio to a bare FastAPI endpoint.

Run ``python -m bench.api [--seconds N] [--clients C] [--json out.json]``.

One run, one PostgreSQL (embedded, or ``KOPILKA_BENCH_DATABASE_URL``'s server), one Kopilka
server process (uvicorn, one worker, serving the real app plus a bare endpoint
``GET /bench/bare`` that returns a constant JSON without auth or database), and load from a
second process (this one): C asyncio clients on one ``httpx.AsyncClient`` each, for N seconds:

1. bare endpoint; 2. ``GET /api/v1/customers/{id}/balance`` with an API key, over 200 customers
   with points; 3. bare endpoint again (drift on a shared machine shows; the ratio uses the mean).

Reports requests per second and p50/p99 latency of each, and the ratio balance / bare. Goal:
≥ 0.6.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.ledger import create_database, drop_database, machine_facts, pg_server

GOAL = 0.6
ROOT = Path(__file__).parents[1]


def serve(db_url: str, port: int) -> None:
    """The server process: the real app and the bare endpoint, one uvicorn worker."""
    import uvicorn

    from kopilka.config import Settings
    from kopilka.db.engine import create_engine
    from kopilka.process.services import Services
    from kopilka.web.app import create_app

    engine = create_engine(db_url, pool_size=20)
    services = Services(engine=engine, database_url=db_url, settings=Settings())
    app = create_app(services)

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, Any]:
        return {"customer_id": 1, "total": 0, "available": 0, "pending": 0, "held": 0}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def seed(db_url: str, customers: int) -> tuple[str, list[int]]:
    from kopilka.api.keys import create_api_key
    from kopilka.db.engine import create_engine, run_in_transaction
    from kopilka.ledger.accrual import accrue
    from kopilka.ledger.book import ensure_customer, ensure_portal
    from kopilka.lifecycle.service import install_program
    from kopilka.program.loader import load_program

    path = ROOT / "examples" / "retail-wholesale.yaml"
    program = load_program(path)
    engine = create_engine(db_url)

    async def unit(conn: Any) -> tuple[str, list[int]]:
        portal_id = await ensure_portal(conn, "bench")
        book = await install_program(conn, portal_id, program, path.read_text(encoding="utf-8"))
        ids = []
        for i in range(customers):
            cid = await ensure_customer(conn, portal_id, f"contact:{i + 1}", name=f"C{i}")
            for j in range(3):
                await accrue(
                    conn,
                    book,
                    customer_id=cid,
                    amount=100 * (j + 1),
                    key=f"f{i}:{j}",
                    reason="bench",
                    actor="bench",
                    now=datetime.now(UTC),
                )
            ids.append(cid)
        key = await create_api_key(conn, portal_id, "bench", ["cards:read"])
        return key, ids

    try:
        return await run_in_transaction(engine, unit)
    finally:
        await engine.dispose()


async def load(
    url: str, paths: list[str], headers: dict[str, str], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:
            i = n
            while time.perf_counter() < stop:
                started = time.perf_counter()
                answer = await http.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors += 1
                i += clients

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    took = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / took,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(seconds: float, clients: int) -> dict[str, Any]:
    from kopilka.db.migrate import upgrade

    with pg_server() as server:
        name = f"kopilka_bench_api_{uuid.uuid4().hex[:6]}"
        db_url = create_database(server.url, name)
        try:
            upgrade(db_url)
            key, ids = await seed(db_url, 200)
            port = free_port()
            proc = subprocess.Popen(  # the server: a process of its own
                [sys.executable, "-m", "bench.api", "serve", "--db", db_url, "--port", str(port)],
                cwd=ROOT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                async with httpx.AsyncClient(base_url=url) as probe:
                    for _ in range(300):
                        try:
                            if (await probe.get("/bench/bare")).status_code == 200:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.1)
                auth = {"Authorization": f"Bearer {key}"}
                balance_paths = [f"/api/v1/customers/{c}/balance" for c in ids]
                await load(url, balance_paths, auth, clients, 2)  # warm up both
                await load(url, ["/bench/bare"], {}, clients, 1)
                bare1 = await load(url, ["/bench/bare"], {}, clients, seconds)
                balance = await load(url, balance_paths, auth, clients, seconds)
                bare2 = await load(url, ["/bench/bare"], {}, clients, seconds)
            finally:
                proc.terminate()
                proc.wait(10)
            bare_mean = statistics.mean([bare1["per_second"], bare2["per_second"]])
            return {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine_facts(server.url),
                "settings": {
                    "seconds": seconds,
                    "clients": clients,
                    "uvicorn_workers": 1,
                    "customers": len(ids),
                },
                "bare_1": bare1,
                "balance": balance,
                "bare_2": bare2,
                "ratio": balance["per_second"] / bare_mean,
                "goal": GOAL,
            }
        finally:
            drop_database(server.url, name)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        p = argparse.ArgumentParser()
        p.add_argument("serve")
        p.add_argument("--db", required=True)
        p.add_argument("--port", type=int, required=True)
        a = p.parse_args()
        serve(a.db, a.port)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    result = asyncio.run(run(a.seconds, a.clients))
    for name in ("bare_1", "balance", "bare_2"):
        r = result[name]
        print(
            f"{name:8} {r['per_second']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}"
        )
    verdict = "met" if result["ratio"] >= GOAL else "NOT met"
    print(f"ratio balance / bare = {result['ratio']:.2f} (goal ≥ {GOAL}: {verdict})")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    os.environ.setdefault("KOPILKA_BENCH_DONE", "1")


if __name__ == "__main__":
    main()
