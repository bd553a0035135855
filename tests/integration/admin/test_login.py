"""Named people sign in to the admin over real HTTP (issue 18): a person is locked out after too
many wrong passwords (the right one is refused then too, without hashing), and the shared
password is the bootstrap owner only until a first owner exists."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kopilka.admin import passwords, users
from kopilka.db.engine import run_in_transaction
from tests.integration.admin.people import NOW
from tests.integration.api.webauth import Web, csrf_of, serve, start

pytestmark = pytest.mark.timeout(120)
LIMIT = 3


async def _add(web: Web, login: str, role: str, password: str) -> None:
    async def unit(conn: AsyncConnection) -> None:
        await users.add_user(
            conn,
            login=login,
            name="",
            role=role,
            grant_limit=None,
            actor="test",
            now=NOW,
            password_hash=passwords.hash_password(password, iterations=1_000),
            portal_id=web.portal_id,
        )

    await run_in_transaction(web.engine, unit)


async def test_a_person_is_locked_out_after_wrong_passwords(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(committed_engine, login_max_failures_per_phone=LIMIT) as web:
        await _add(web, "olga", "owner", "correct horse")
        await _add(web, "ivan", "manager", "battery staple")
        async with web.client() as client:
            await start(client, "/admin/login")
            form = {"login": "olga", "password": "wrong", "csrf": csrf_of(client)}
            wrong = [
                (await client.post("/admin/login", data=form)).status_code for _ in range(LIMIT + 1)
            ]
            right = await client.post("/admin/login", data=form | {"password": "correct horse"})
            # Another person at the same address is not locked out by Olga's lockout.
            ivan = await client.post(
                "/admin/login",
                data={"login": "ivan", "password": "battery staple", "csrf": csrf_of(client)},
            )
    assert wrong == [401] * LIMIT + [429]
    assert right.status_code == 429
    assert "попыток" in right.text
    assert ivan.status_code == 303
    assert ivan.headers["location"] == "/admin/customers"


async def test_the_shared_password_works_only_until_an_owner_exists(
    committed_engine: AsyncEngine,
) -> None:
    shared = SecretStr(passwords.hash_password("shared secret", iterations=1_000))
    async with serve(committed_engine, admin_password_hash=shared) as web:
        async with web.client() as client:
            await start(client, "/admin/login")
            form = {"login": "", "password": "shared secret", "csrf": csrf_of(client)}
            first = await client.post("/admin/login", data=form)
            assert first.status_code == 303
            assert first.headers["location"] == "/admin/customers"
            people = await client.get("/admin/people")
            assert people.status_code == 200
            assert 'id="bootstrap"' in people.text
            anna = await web.scalar("SELECT id FROM customers WHERE portal_id = :p")
            customer = await client.get(f"/admin/customers/{anna}")  # reads; grants as nobody
            assert customer.status_code == 200
            assert "Анна" in customer.text
            assert "do-grant" not in customer.text
            await _add(web, "olga", "owner", "correct horse")
            # The bootstrap session ends with the first owner; the shared password too.
            gone = await client.get("/admin/people")
            await start(client, "/admin/login")
            again = await client.post("/admin/login", data=form | {"csrf": csrf_of(client)})
    assert gone.status_code == 303
    assert gone.headers["location"] == "/admin/login"
    assert again.status_code == 401


async def test_concurrent_wrong_passwords_for_one_person_hash_at_most_the_limit(
    committed_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = 0
    real = passwords.verify_password

    def counting(password: str, stored: str) -> bool:
        nonlocal hashed
        hashed += 1
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    # Addresses are not the limit here: the person's own row is.
    async with serve(
        committed_engine, login_max_failures_per_phone=LIMIT, login_max_failures_per_addr=1000
    ) as web:
        await _add(web, "olga", "owner", "correct horse")
        async with web.client() as client:
            await start(client, "/admin/login")
            form = {"login": "olga", "password": "wrong", "csrf": csrf_of(client)}
            answers = await asyncio.gather(
                *(client.post("/admin/login", data=form) for _ in range(20))
            )
    assert hashed == LIMIT
    assert sorted(a.status_code for a in answers) == [401] * LIMIT + [429] * (20 - LIMIT)
