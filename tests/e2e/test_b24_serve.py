"""`kopilka serve` starts the web app, a worker and the scheduler in one process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.process.devstack import free_socket

pytestmark = pytest.mark.timeout(120)


async def test_serve_answers_health_and_metrics_and_runs_a_worker(
    committed_engine: AsyncEngine,
) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "KOPILKA_DATABASE_URL": committed_engine.url.render_as_string(hide_password=False),
        "KOPILKA_WORKER_HEARTBEAT": "0.5",
        "KOPILKA_METRICS_TOKEN": "scrape-me",
    }
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "kopilka", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        health = None
        for _ in range(200):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        assert health is not None
        assert health.json() == {"status": "ok", "database": "ok", "portals": []}
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404  # no token: not served
        scraper = {"Authorization": "Bearer scrape-me"}
        metrics = httpx.get(f"{base}/metrics", headers=scraper, timeout=5).text
        assert "kopilka_jobs" in metrics
        async with committed_engine.connect() as conn:  # the worker registered itself
            workers = 0
            for _ in range(50):
                workers = int(
                    await conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0
                )
                if workers:
                    break
                await asyncio.sleep(0.1)
        assert workers >= 1
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.returncode is not None


async def test_metrics_on_an_address_of_their_own(committed_engine: AsyncEngine) -> None:
    """KOPILKA_METRICS_LISTEN: /metrics there without a token, and not on the public port."""
    ports = []
    for _ in range(2):
        sock = free_socket()
        ports.append(sock.getsockname()[1])
        sock.close()
    port, metrics_port = ports
    env = {
        **os.environ,
        "KOPILKA_DATABASE_URL": committed_engine.url.render_as_string(hide_password=False),
        "KOPILKA_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "KOPILKA_METRICS_TOKEN": "scrape-me",  # even the token opens nothing on the public port
    }
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "kopilka", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        metrics = None
        for _ in range(200):
            try:
                metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1)
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        assert metrics is not None
        assert metrics.status_code == 200
        assert "kopilka_jobs" in metrics.text
        public = httpx.get(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": "Bearer scrape-me"},
            timeout=5,
        )
        assert public.status_code == 404
    finally:
        proc.terminate()
        assert proc.wait(15) == 0  # SIGTERM: a clean stop
