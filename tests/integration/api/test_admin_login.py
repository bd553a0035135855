"""The admin login over real HTTP (issue 12, item 4): a flood of wrong passwords from one client
costs at most the limit's worth of hashing, and hashing does not stop the server."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin import passwords
from tests.integration.api.webauth import csrf_of, serve, start

pytestmark = pytest.mark.timeout(120)
LIMIT = 5  # login_max_failures_per_phone: the admin's attempts per client


async def test_concurrent_wrong_passwords_hash_at_most_the_limit(
    committed_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = 0
    real = passwords.verify_password

    def counting(password: str, stored: str) -> bool:
        nonlocal hashed
        hashed += 1
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    stored = SecretStr(passwords.hash_password("right", iterations=20_000))
    async with serve(
        committed_engine, admin_password_hash=stored, login_max_failures_per_phone=LIMIT
    ) as web:
        async with web.client() as client:
            await start(client, "/admin/login")
            form = {"password": "wrong", "csrf": csrf_of(client)}
            answers = await asyncio.gather(
                *(client.post("/admin/login", data=form) for _ in range(30))
            )
            right = await client.post("/admin/login", data=form | {"password": "right"})
    statuses = sorted(a.status_code for a in answers)
    assert hashed <= LIMIT  # the right password above is refused before hashing too
    assert statuses == [401] * LIMIT + [429] * (30 - LIMIT)
    assert right.status_code == 429


async def test_healthz_answers_while_a_password_is_checked(
    committed_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    release = threading.Event()
    real = passwords.verify_password

    def slow(password: str, stored: str) -> bool:
        started.set()
        release.wait(10)  # held until /healthz has answered (or for 10 s: then it failed)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", slow)
    stored = SecretStr(passwords.hash_password("right", iterations=1_000))
    order: list[str] = []
    async with serve(committed_engine, admin_password_hash=stored) as web:
        async with web.client() as client, web.client() as other:
            await start(client, "/admin/login")

            async def log_in() -> int:
                form = {"password": "wrong", "csrf": csrf_of(client)}
                answer = await client.post("/admin/login", data=form)
                order.append("login")
                return answer.status_code

            login = asyncio.create_task(log_in())
            assert await asyncio.to_thread(started.wait, 30)
            health = await other.get("/healthz")
            order.append("healthz")
            release.set()
            assert await login == 401
    assert health.status_code == 200
    assert order == ["healthz", "login"]
