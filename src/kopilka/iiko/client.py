"""A thin iikoCloud client for the endpoints Kopilka uses (docs/decisions.md: why not
``iikocloudapi``): the token fetched and renewed before it ages out and once more on a 401, the
``Timeout`` header, iiko's error envelope as typed errors, and a gap between calls.

Money crosses the wire as decimal roubles of points; Kopilka counts kopecks (``to_minor``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from kopilka.iiko.errors import (
    IikoError,
    IikoRateLimited,
    IikoRejected,
    IikoTimeout,
    IikoUnauthorized,
    IikoUnavailable,
)

LOYALTY = "/api/1/loyalty/iiko/"


def to_minor(value: Any) -> int:
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_wire(minor: int) -> float:
    return float(Decimal(minor) / 100)


@dataclass(frozen=True, slots=True)
class Guest:
    id: str
    phone: str
    wallet_id: str | None
    balance: int  # kopecks on the bonus wallet


@dataclass(frozen=True, slots=True)
class WalletTransaction:
    id: str
    wallet_id: str
    amount: int  # kopecks, signed: < 0 spent
    revision: int
    comment: str
    order_number: str | None
    when: str


@dataclass(frozen=True, slots=True)
class TransactionPage:
    transactions: tuple[WalletTransaction, ...]
    last_revision: int


class IikoClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_login: str,
        organization_id: str,
        *,
        terminal_timeout: int = 15,
        token_max_age: float = 14 * 60,
        min_interval: float = 0.0,
        http_timeout: float | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._login = api_login
        self.organization_id = organization_id
        self._terminal_timeout = terminal_timeout
        self._token_max_age = token_max_age
        self._min_interval = min_interval
        self._http_timeout = http_timeout or terminal_timeout + 5.0  # a bit over iiko's wait
        self._token: str | None = None
        self._token_at = 0.0
        self._gate = asyncio.Lock()
        self._last_call = 0.0

    # --- transport ----------------------------------------------------------------------------
    async def _pace(self) -> None:
        async with self._gate:
            wait = self._last_call + self._min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_call = time.monotonic()

    async def _send(self, path: str, body: dict[str, Any], token: str | None) -> httpx.Response:
        await self._pace()
        headers = {"Timeout": str(self._terminal_timeout)}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return await self._http.post(
                self._base + path,
                json=body,
                headers=headers,
                timeout=self._http_timeout,
            )
        except httpx.TimeoutException as exc:
            raise IikoTimeout(408, f"no answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise IikoUnavailable(0, f"iikoCloud out of reach ({type(exc).__name__})") from None

    async def _token_now(self, *, fresh: bool = False) -> str:
        aged = time.monotonic() - self._token_at >= self._token_max_age
        if fresh or self._token is None or aged:
            answer = self._decode(
                await self._send("/api/1/access_token", {"apiLogin": self._login}, None)
            )
            self._token, self._token_at = str(answer["token"]), time.monotonic()
        return self._token

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(path, body, await self._token_now())
        if response.status_code == 401:  # expired early or revoked: one fresh token, once
            response = await self._send(path, body, await self._token_now(fresh=True))
        return self._decode(response)

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        status = response.status_code
        if status < 400:
            return payload
        text = str(payload.get("errorDescription") or payload.get("message") or "")[:300]
        corr = str(payload.get("correlationId") or "")
        if status == 401:
            raise IikoUnauthorized(status, text or "unauthorized", corr)
        if status == 429:
            after = response.headers.get("Retry-After")
            raise IikoRateLimited(text or "too many requests", float(after) if after else None)
        if status == 408:
            raise IikoTimeout(status, text or "the terminal did not answer", corr)
        if status >= 500:
            raise IikoUnavailable(status, text or "server error", corr)
        raise IikoRejected(status, text or "refused", corr)

    # --- endpoints ----------------------------------------------------------------------------
    def _org(self, **fields: Any) -> dict[str, Any]:
        return {"organizationId": self.organization_id, **fields}

    async def organizations(self) -> list[dict[str, Any]]:
        body = {"organizationIds": None, "returnAdditionalInfo": False, "includeDisabled": False}
        answer = await self.call("/api/1/organizations", body)
        return list(answer.get("organizations") or [])

    async def guest_by_phone(self, phone: str) -> Guest | None:
        try:
            answer = await self.call(
                LOYALTY + "customer/info", self._org(type="phone", phone=phone)
            )
        except IikoRejected:
            return None  # iiko answers an unknown phone with a 400
        return _guest(answer)

    async def guest_by_id(self, guest_id: str) -> Guest:
        return _guest(await self.call(LOYALTY + "customer/info", self._org(type="id", id=guest_id)))

    async def create_or_update(self, phone: str, name: str) -> str:
        body = self._org(phone=phone, cardTrack=phone, cardNumber=phone, name=name or None)
        return str((await self.call(LOYALTY + "customer/create_or_update", body))["id"])

    async def move(
        self, kind: str, guest_id: str, wallet_id: str, minor: int, comment: str
    ) -> None:
        """``kind`` is ``topup`` or ``chargeoff``; ``minor`` is positive kopecks."""
        body = self._org(
            customerId=guest_id, walletId=wallet_id, sum=to_wire(minor), comment=comment
        )
        await self.call(LOYALTY + f"customer/wallet/{kind}", body)

    async def transactions(
        self, guest_id: str, revision: int, page_size: int = 100
    ) -> TransactionPage:
        body = self._org(customerId=guest_id, revision=revision, pageSize=page_size)
        answer = await self.call(LOYALTY + "customer/transactions/by_revision", body)
        rows = tuple(
            WalletTransaction(
                str(t["id"]),
                str(t.get("walletId") or ""),
                to_minor(t.get("sum") or 0),
                int(t.get("revision") or 0),
                str(t.get("comment") or ""),
                t.get("orderNumber"),
                str(t.get("whenCreated") or ""),
            )
            for t in answer.get("transactions") or []
        )
        return TransactionPage(rows, int(answer.get("lastRevision") or revision))


@dataclass(frozen=True, slots=True)
class OrderLine:
    name: str
    product_id: str
    price: int  # kopecks
    quantity: float


@dataclass(frozen=True, slots=True)
class ClosedOrder:
    id: str
    number: str
    phone: str | None
    name: str
    total: int  # kopecks
    lines: tuple[OrderLine, ...]


def _order(raw: dict[str, Any]) -> ClosedOrder | None:
    body = raw.get("order") or {}
    if str(body.get("status")) != "Closed":
        return None
    customer = body.get("customer") or {}
    lines = tuple(
        OrderLine(
            str((i.get("product") or {}).get("name") or "Позиция"),
            str((i.get("product") or {}).get("id") or ""),
            to_minor(i.get("price") or 0),
            float(i.get("amount") or 0),
        )
        for i in body.get("items") or []
        if float(i.get("amount") or 0) > 0
    )
    return ClosedOrder(
        str(raw["id"]),
        str(body.get("number") or ""),
        customer.get("phone") or body.get("phone"),
        str(customer.get("name") or ""),
        to_minor(body.get("sum") or 0),
        lines,
    )


async def closed_orders(client: IikoClient, revision: int) -> tuple[list[ClosedOrder], int]:
    """The orders closed since ``revision`` (``deliveries/by_revision``) and the revision now."""
    body = {"startRevision": revision, "organizationIds": [client.organization_id]}
    answer = await client.call("/api/1/deliveries/by_revision", body)
    found = [
        order
        for group in answer.get("ordersByOrganizations") or []
        for raw in group.get("orders") or []
        if (order := _order(raw)) is not None
    ]
    return found, int(answer.get("maxRevision") or revision)


def _guest(answer: dict[str, Any]) -> Guest:
    wallets = [w for w in answer.get("walletBalances") or [] if w.get("type") == 1]
    wallet = wallets[0] if wallets else None
    return Guest(
        str(answer["id"]),
        str(answer.get("phone") or ""),
        str(wallet["id"]) if wallet else None,
        to_minor(wallet.get("balance") or 0) if wallet else 0,
    )


__all__ = ["Guest", "IikoClient", "IikoError", "TransactionPage", "WalletTransaction"]
