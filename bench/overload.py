"""Overload: the balance API offered well above its capacity, without and with the in-flight bound.

Run ``python -m bench.overload [--seconds N] [--factor F] [--bound B] [--json out.json]``.

One PostgreSQL, the server process of ``bench.api`` (one uvicorn worker, the real app), and an
open-loop load from this process: requests are started at a fixed rate whatever the answers do
(clients of a public API do not wait for each other), for N seconds each run:

1. capacity: the closed-loop rate of ``bench.api`` (16 clients, each waiting for its answer);
2. ``KOPILKA_MAX_IN_FLIGHT=0`` (no bound) at F × capacity: every request queues;
3. ``KOPILKA_MAX_IN_FLIGHT=B`` at the same rate: the excess is refused with 503 at once.

Reports, per run, the requests answered 200 (rate, p50, p99), refused with 503 (p99) and failed
(time-outs after 60 s, connection errors). The load is written on raw keep-alive
connections (``Connections``): httpx costs about as much per request as the server does.
Nothing is asserted: numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.api import free_port, load, seed
from bench.ledger import create_database, drop_database, machine_facts, pg_server

ROOT = Path(__file__).parents[1]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(1000 * values[min(len(values) - 1, int(len(values) * q))], 1)


class Connections:
    """Keep-alive HTTP/1.1 connections written by hand: a load generator must cost far less than
    the server it loads (httpx costs about as much per request as the server does, so on a small
    machine it measured its own backlog), and answers are read by their Content-Length."""

    def __init__(self, url: str, cap: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.cap = host, int(port), cap
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def get(self, raw: bytes) -> int:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            self.opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(raw)
        status = int((await reader.readline()).split()[1])
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        await reader.readexactly(length)
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()


async def open_loop(
    url: str, paths: list[str], headers: dict[str, str], rate: float, seconds: float
) -> dict[str, Any]:
    ok: list[float] = []
    refused: list[float] = []
    failed = 0
    late = 0.0
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raws = [f"GET {p} HTTP/1.1\r\nHost: bench\r\n{head}\r\n".encode() for p in paths]
    pool = Connections(url, cap=2000)

    async def one(raw: bytes) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            status = await asyncio.wait_for(pool.get(raw), 60)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            failed += 1
            return
        took = time.perf_counter() - started
        (ok if status == 200 else refused).append(took)

    tasks = []
    began = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):  # start each request on time, whatever the answers do
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        tasks.append(asyncio.create_task(one(raws[i % len(raws)])))
    offered_for = time.perf_counter() - began
    await asyncio.gather(*tasks)
    lasted = time.perf_counter() - began
    pool.close()
    return {
        "offered": total,
        "offered_per_second": round(total / offered_for),
        "generator_late_ms": round(1000 * late, 1),
        "lasted_s": round(lasted, 1),
        "connections": pool.opened,
        "ok": len(ok),
        "ok_per_second": round(len(ok) / lasted),
        "ok_p50_ms": _pct(ok, 0.5),
        "ok_p99_ms": _pct(ok, 0.99),
        "refused_503": len(refused),
        "refused_p50_ms": _pct(refused, 0.5),
        "refused_p99_ms": _pct(refused, 0.99),
        "failed": failed,
    }


async def with_server(db_url: str, bound: int, work: Any) -> Any:
    port = free_port()
    env = {**os.environ, "KOPILKA_MAX_IN_FLIGHT": str(bound)}
    proc = subprocess.Popen(  # the server of bench.api, a process of its own
        [sys.executable, "-m", "bench.api", "serve", "--db", db_url, "--port", str(port)],
        cwd=ROOT,
        env=env,
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
        return await work(url)
    finally:
        proc.terminate()
        proc.wait(10)


async def run(seconds: float, factor: float, bound: int) -> dict[str, Any]:
    from kopilka.db.migrate import upgrade

    with pg_server() as server:
        name = f"kopilka_bench_overload_{uuid.uuid4().hex[:6]}"
        db_url = create_database(server.url, name)
        try:
            upgrade(db_url)
            key, ids = await seed(db_url, 200)
            auth = {"Authorization": f"Bearer {key}"}
            paths = [f"/api/v1/customers/{c}/balance" for c in ids]

            async def capacity(url: str) -> dict[str, Any]:
                await load(url, paths, auth, 16, 2)  # warm up
                return await load(url, paths, auth, 16, seconds)

            closed = await with_server(db_url, 0, capacity)
            rate = factor * closed["per_second"]

            async def offered(url: str) -> dict[str, Any]:
                await load(url, paths, auth, 16, 2)  # warm up
                return await open_loop(url, paths, auth, rate, seconds)

            unbounded = await with_server(db_url, 0, offered)
            bounded = await with_server(db_url, bound, offered)
            return {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine_facts(server.url),
                "settings": {"seconds": seconds, "factor": factor, "bound": bound},
                "capacity": closed,
                "unbounded": unbounded,
                "bounded": bounded,
            }
        finally:
            drop_database(server.url, name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--factor", type=float, default=3.0)
    p.add_argument("--bound", type=int, default=32)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    result = asyncio.run(run(a.seconds, a.factor, a.bound))
    c = result["capacity"]
    print(f"capacity  {c['per_second']:6.0f} req/s closed loop, p99 {c['p99_ms']:.1f} ms")
    for name in ("unbounded", "bounded"):
        r = result[name]
        print(
            f"{name:9} offered {r['offered_per_second']:5} req/s for {a.seconds} s, done in "
            f"{r['lasted_s']} s: 200 × {r['ok']} (p50 {r['ok_p50_ms']} ms, p99 "
            f"{r['ok_p99_ms']} ms), 503 × {r['refused_503']} (p50 {r['refused_p50_ms']} ms, "
            f"p99 {r['refused_p99_ms']} ms), failed {r['failed']}"
        )
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
