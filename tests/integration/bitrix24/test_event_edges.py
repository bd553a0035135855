"""The ``/b24`` doors against unauthenticated abuse, over real HTTP: bodies are capped before they
are read, ids are checked before anything is written, rejections are recorded within bounds,
and an install is refused outright when this Kopilka is not an application."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kopilka.config import Settings
from kopilka.db.tables import b24_connections, b24_rejected_events, portals
from tests.integration.bitrix24.test_events import TOKEN, counts, event, running


async def raw_post(url: str, path: str, head: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """A POST written by hand (a lying or chunked client); the status and body answered."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in head.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    answer = await reader.read()  # the server answers and closes
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def chunked(data: bytes, size: int = 1000) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Connection": "close"}


async def test_a_body_over_the_cap_gets_413_before_it_is_read(
    committed_engine: AsyncEngine,
) -> None:
    async with running(committed_engine, Settings(max_body_bytes=4096)) as web:
        forged = urlencode(event("759", "0" * 32)).encode()
        # 300 MB announced, a few bytes sent: refused on the announcement alone.
        announced = await raw_post(
            web.url, "/b24/events", FORM | {"Content-Length": "300000000"}, forged
        )
        # No length announced: read up to the cap, then refused.
        streamed = await raw_post(
            web.url,
            "/b24/events",
            FORM | {"Transfer-Encoding": "chunked"},
            chunked(forged + b"&pad=" + b"x" * 8000),
        )
        api = await raw_post(
            web.url,
            "/api/v1/pos/calculate",
            {"Content-Type": "application/json", "Content-Length": "10000", "Connection": "close"},
            b"{",
        )
        # Within the cap, both ways, an event is taken as usual.
        fine = urlencode(event("760", TOKEN)).encode()
        small = await raw_post(
            web.url, "/b24/events", FORM | {"Content-Length": str(len(fine))}, fine
        )
        small_chunked = await raw_post(
            web.url, "/b24/events", FORM | {"Transfer-Encoding": "chunked"}, chunked(fine, 50)
        )
    for status, body in (announced, streamed, api):
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "body_too_large"
    assert small[0] == 200
    assert small_chunked[0] == 200
    assert await counts(web.engine) == (1, 1, 0)  # the refused ones recorded nothing


@pytest.mark.parametrize(
    "raw", ["99999999999999999999999", "9223372036854775808", "²", "١٢", "-1", "0", "1e3", " 7"]
)
async def test_an_id_that_is_not_ascii_digits_in_range_gets_400(
    committed_engine: AsyncEngine, raw: str
) -> None:
    async with running(committed_engine) as web, httpx.AsyncClient(base_url=web.url) as http:
        answer = await http.post("/b24/events", data=event(raw, TOKEN))
        biggest = await http.post("/b24/events", data=event("9223372036854775807", TOKEN))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"
    assert biggest.status_code == 200
    assert await counts(web.engine) == (1, 1, 0)  # only the largest BIGINT was hinted


async def test_rejections_are_recorded_within_bounds(
    committed_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(b24_rejections_per_source=7, b24_rejections_per_minute=1000)
    with caplog.at_level(logging.WARNING, logger="kopilka.bitrix24.events"):
        async with running(committed_engine, settings) as web:
            async with httpx.AsyncClient(base_url=web.url) as http:
                answers = [
                    (await http.post("/b24/events", data=event("759", f"{n:032x}"))).status_code
                    for n in range(30)
                ]
    assert answers == [401] * 30  # every forgery is refused...
    assert await counts(web.engine) == (0, 0, 7)  # ...but only 7 a minute are written
    assert caplog.text.count("rejected Bitrix24 event") == 7


async def test_the_rejections_table_is_pruned(committed_engine: AsyncEngine) -> None:
    settings = Settings(
        b24_rejections_per_source=1000, b24_rejections_per_minute=1000, b24_rejections_kept=10
    )
    async with running(committed_engine, settings) as web:
        async with httpx.AsyncClient(base_url=web.url) as http:
            for n in range(130):
                await http.post("/b24/events", data=event("759", f"{n:032x}"))
    async with committed_engine.connect() as conn:
        kept = await conn.scalar(select(func.count()).select_from(b24_rejected_events))
        oldest = await conn.scalar(select(func.min(b24_rejected_events.c.id)))
    assert kept == 40  # pruned to the newest 10 at row 100, then 30 more
    assert oldest == 91


async def test_install_is_refused_when_kopilka_is_not_an_application(
    committed_engine: AsyncEngine,
) -> None:
    async with running(committed_engine) as web, httpx.AsyncClient(base_url=web.url) as http:
        answer = await http.post(
            "/b24/install",
            data={
                "event": "ONAPPINSTALL",
                "auth[member_id]": "a223c6b3710f85df22e9377d6c4f7553",
                "auth[domain]": "127.0.0.1:9",
                "auth[client_endpoint]": "http://127.0.0.1:9/rest/",
                "auth[access_token]": "a" * 32,
                "auth[refresh_token]": "b" * 32,
                "auth[application_token]": "c" * 32,
            },
        )
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "app_mode_off"
    async with committed_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(portals)) == 1
        modes = (await conn.execute(select(b24_connections.c.mode))).scalars().all()
    assert modes == ["webhook"]
