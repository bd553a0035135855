"""Forwarded headers, Secure cookies and the CSRF token at login, over real HTTP (issue 12,
item 8). The server is built with the same uvicorn options as `kopilka serve`."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.admin.passwords import hash_password
from tests.integration.api.webauth import (
    PHONE,
    code_in,
    serve,
    start,
    verify,
)

pytestmark = pytest.mark.timeout(120)
HTTPS = {"X-Forwarded-Proto": "https"}


def set_cookies(answer: httpx.Response, name: str) -> list[str]:
    return [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]


async def test_a_forged_forwarded_address_does_not_dodge_the_lockout(
    committed_engine: AsyncEngine,
) -> None:
    """Default settings: no proxy is trusted, so X-Forwarded-For from loopback is ignored and
    every guess counts against the one real address."""
    async with serve(
        committed_engine, login_max_failures_per_addr=3, login_max_failures_per_phone=100
    ) as web:
        async with web.client() as client:
            await start(client)
            answers = []
            for i in range(4):
                client.headers["X-Forwarded-For"] = f"203.0.113.{i}"
                answers.append(await verify(client, f"+7916555000{i}", "000000"))
            failures = await web.scalar(
                "SELECT array_agg(DISTINCT subject) FROM login_failures "
                "WHERE portal_id = :p AND subject LIKE 'addr:%'"
            )
    assert [a.status_code for a in answers] == [401, 401, 429, 429]
    assert failures == ["addr:127.0.0.1"]


async def test_cookies_are_secure_behind_a_trusted_https_proxy(
    committed_engine: AsyncEngine,
) -> None:
    async with serve(committed_engine, trusted_proxies="127.0.0.1") as web:
        async with web.client() as client:
            behind = await client.get("/cabinet/login", headers=HTTPS)
        async with web.client() as client:
            plain = await client.get("/cabinet/login")
    [cookie] = set_cookies(behind, "kop_csrf")
    assert "secure" in cookie.lower()
    assert "httponly" in cookie.lower()
    [cookie] = set_cookies(plain, "kop_csrf")
    assert "secure" not in cookie.lower()


async def test_an_untrusted_forwarded_proto_changes_nothing(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine) as web:
        async with web.client() as client:
            answer = await client.get("/cabinet/login", headers=HTTPS)
    [cookie] = set_cookies(answer, "kop_csrf")
    assert "secure" not in cookie.lower()


async def test_secure_cookies_can_be_forced(committed_engine: AsyncEngine) -> None:
    async with serve(committed_engine, secure_cookies=True) as web:
        async with web.client() as client:
            answer = await client.get("/cabinet/login")
    [cookie] = set_cookies(answer, "kop_csrf")
    assert "secure" in cookie.lower()


def value_of(cookie: str) -> str:
    return cookie.split(";")[0].split("=", 1)[1]


async def test_cabinet_login_rotates_csrf_and_sets_a_secure_session(
    committed_engine: AsyncEngine,
) -> None:
    # httpx keeps Secure cookies to itself over http://, so the test sends them by hand.
    async with serve(committed_engine, trusted_proxies="127.0.0.1") as web:
        async with web.client(headers=HTTPS) as client:
            [cookie] = set_cookies(await client.get("/cabinet/login"), "kop_csrf")
            before = value_of(cookie)
            jar = {"Cookie": f"kop_csrf={before}"}
            form = {"phone": PHONE, "csrf": before}
            asked = await client.post("/cabinet/login", data=form, headers=jar)
            assert asked.status_code == 200, asked.text
            await web.deliver()
            code = code_in(web.sms.messages[-1].text)
            entered = await client.post("/cabinet/verify", data=form | {"code": code}, headers=jar)
    assert entered.status_code == 303, entered.text
    [session] = set_cookies(entered, "kop_session")
    assert "secure" in session.lower()
    [csrf] = set_cookies(entered, "kop_csrf")
    assert "secure" in csrf.lower()
    assert value_of(csrf) != before


async def test_admin_login_rotates_csrf_and_sets_a_secure_session(
    committed_engine: AsyncEngine,
) -> None:
    stored = SecretStr(hash_password("right", iterations=1_000))
    async with serve(
        committed_engine, admin_password_hash=stored, trusted_proxies="127.0.0.1"
    ) as web:
        async with web.client(headers=HTTPS) as client:
            [cookie] = set_cookies(await client.get("/admin/login"), "kop_csrf")
            before = value_of(cookie)
            entered = await client.post(
                "/admin/login",
                data={"password": "right", "csrf": before},
                headers={"Cookie": f"kop_csrf={before}"},
            )
    assert entered.status_code == 303, entered.text
    [session] = set_cookies(entered, "kop_admin")
    assert "secure" in session.lower()
    [csrf] = set_cookies(entered, "kop_csrf")
    assert value_of(csrf) != before
