"""A local iikoCloud (``reference/integrations.md`` §4) over real HTTP on 127.0.0.1, with a till.

Every call is ``POST`` with a JSON body and ``Authorization: Bearer <token>`` (except the token
call itself); answers are camelCase JSON; an error is its HTTP status with the envelope
``{"correlationId", "errorDescription", "error"}`` (429 carries ``Retry-After``). Served:

* ``/api/1/access_token`` ``{"apiLogin"}`` → ``{"token"}``; :meth:`IikoFake.expire_tokens`
  makes every token handed out so far answer 401, as an hour-old one does;
* ``/api/1/organizations``;
* ``/api/1/loyalty/iiko/customer/info`` (by phone or id), ``customer/create_or_update``
  (matched by id, else phone; a new guest gets a bonus wallet),
  ``customer/wallet/topup|chargeoff`` (a positive ``sum``; a chargeoff beyond the balance is
  refused), ``customer/transactions/by_revision`` (``revision``, ``pageSize``: the guest's
  transactions after that revision, oldest first, and ``lastRevision``);
* ``/api/1/deliveries/by_revision`` (``startRevision``, ``organizationIds``): the orders closed
  after that revision (:meth:`IikoFake.close_order`) and ``maxRevision``.

The till simulator (:meth:`till_spend`, :meth:`till_accrue`, :meth:`till_refund`) moves a
wallet as iiko Front does at the cash desk, leaving a transaction without Kopilka's comment.
Faults: :meth:`fail_next` (an HTTP status: 401, 429, 500, 503…), :meth:`stall_next` (``accept``:
the write is done, only the answer is late — the push whose first attempt did land).

    with IikoFake(api_login="key", organization_id=ORG) as fake:
        guest = fake.guest_by_phone("+79990000001")
        guest.balance  # Decimal, roubles of points
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

from kopilka.fakes._server import FakeServer, Fault, send_json

PREFIX = "/api/1/loyalty/iiko/"


@dataclass
class IikoTransaction:
    id: str
    customer_id: str
    wallet_id: str
    sum: Decimal  # signed: > 0 in, < 0 out
    balance_after: Decimal
    revision: int
    comment: str = ""
    order_number: str | None = None
    when: str = ""

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customerId": self.customer_id,
            "walletId": self.wallet_id,
            "sum": float(self.sum),
            "balanceAfter": float(self.balance_after),
            "revision": self.revision,
            "comment": self.comment,
            "orderNumber": self.order_number,
            "whenCreated": self.when,
        }


@dataclass
class IikoGuest:
    id: str
    phone: str
    name: str = ""
    wallet_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    balance: Decimal = Decimal(0)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "phone": self.phone,
            "cards": [{"id": self.id, "track": self.phone, "number": self.phone}],
            "walletBalances": [
                {"id": self.wallet_id, "name": "Бонусы", "type": 1, "balance": float(self.balance)}
            ],
            "isDeleted": False,
        }


class IikoFake(FakeServer):
    default_error = 503

    def __init__(self, api_login: str = "test", organization_id: str | None = None) -> None:
        super().__init__()
        self.api_login = api_login
        self.organization_id = organization_id or str(uuid.uuid4())
        self.guests: dict[str, IikoGuest] = {}
        self.transactions: list[IikoTransaction] = []
        self.calls: list[str] = []  # the paths asked, in order
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._revision = 0
        self._path_faults: dict[str, list[Fault]] = {}
        self.orders: list[tuple[int, dict[str, Any]]] = []  # (revision, the order as served)

    # --- the till and the test's eyes ---------------------------------------------------------
    def guest_by_phone(self, phone: str) -> IikoGuest | None:
        with self.lock:
            return next((g for g in self.guests.values() if g.phone == phone), None)

    def till_spend(self, phone: str, amount: Decimal | int, order: str | None = None) -> str:
        """The cashier pays ``amount`` of the guest's points (refused beyond the balance)."""
        return self._till(phone, -Decimal(amount), order, "Оплата бонусами")

    def till_accrue(self, phone: str, amount: Decimal | int, order: str | None = None) -> str:
        return self._till(phone, Decimal(amount), order, "Начисление на кассе")

    def till_refund(self, phone: str, amount: Decimal | int, order: str | None = None) -> str:
        return self._till(phone, Decimal(amount), order, "Возврат оплаты бонусами")

    def _till(self, phone: str, amount: Decimal, order: str | None, what: str) -> str:
        with self.lock:
            guest = next(g for g in self.guests.values() if g.phone == phone)
            if guest.balance + amount < 0:
                raise ValueError("not enough points on the wallet")
            return self._move(guest, amount, what, order).id

    def stall_path(
        self, suffix: str, n: int = 1, seconds: float = 3.0, *, accept: bool = True
    ) -> None:
        """Like :meth:`stall_next`, for the next ``n`` calls whose path ends with ``suffix``."""
        with self.lock:
            self._path_faults.setdefault(suffix, []).extend(
                [Fault(seconds=seconds, accept=accept)] * n
            )

    def fail_path(self, suffix: str, status: int, n: int = 1) -> None:
        with self.lock:
            self._path_faults.setdefault(suffix, []).extend([Fault(error=status)] * n)

    def _path_fault(self, path: str) -> Fault | None:
        with self.lock:
            for suffix, queue in self._path_faults.items():
                if queue and path.endswith(suffix):
                    return queue.pop(0)
        return None

    def close_order(
        self, phone: str | None, items: list[tuple[str, Decimal | int, int]], number: int = 1
    ) -> str:
        """A closed order (``items``: name, price, amount) with the guest's phone, if any."""
        with self.lock:
            self._revision += 1
            order_id = str(uuid.uuid4())
            rows = [
                {
                    "type": "Product",
                    "product": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "name": name},
                    "price": float(price),
                    "amount": amount,
                    "cost": float(Decimal(price) * amount),
                }
                for name, price, amount in items
            ]
            total = sum(Decimal(price) * amount for _, price, amount in items)
            order = {
                "id": order_id,
                "organizationId": self.organization_id,
                "creationStatus": "Success",
                "order": {
                    "number": number,
                    "phone": phone,
                    "status": "Closed",
                    "sum": float(total),
                    "whenClosed": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                    "customer": {"phone": phone, "name": "Гость"} if phone else None,
                    "items": rows,
                },
            }
            self.orders.append((self._revision, order))
            return order_id

    def expire_tokens(self) -> None:
        with self.lock:
            self._tokens.clear()

    # --- the API ------------------------------------------------------------------------------
    def _move(
        self, guest: IikoGuest, amount: Decimal, comment: str, order: str | None = None
    ) -> IikoTransaction:
        guest.balance += amount
        self._revision += 1
        tx = IikoTransaction(
            str(uuid.uuid4()),
            guest.id,
            guest.wallet_id,
            amount,
            guest.balance,
            self._revision,
            comment,
            order,
            datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        )
        self.transactions.append(tx)
        return tx

    @staticmethod
    def _error(status: int, text: str) -> tuple[int, Any]:
        return status, {
            "correlationId": str(uuid.uuid4()),
            "errorDescription": text,
            "error": text,
        }

    def serve(
        self, path: str, body: dict[str, Any], auth: str, fault: Fault | None
    ) -> tuple[int, Any]:
        self.calls.append(path)
        fault = fault or self._path_fault(path)
        if fault is not None and fault.error is not None:
            return self._error(int(fault.error), "Injected failure")
        if fault is not None and not fault.accept:
            self.pause(fault.seconds)
            return self._error(408, "Terminal did not answer in time")
        with self.lock:
            answer = self._route(path, body, auth)
        if fault is not None:  # accepted: done, the answer comes too late
            self.pause(fault.seconds)
        return answer

    def _route(self, path: str, body: dict[str, Any], auth: str) -> tuple[int, Any]:
        if path == "/api/1/access_token":
            if body.get("apiLogin") != self.api_login:
                return self._error(401, "Login is not authorized")
            token = secrets.token_urlsafe(16)
            self._tokens.add(token)
            self.tokens_issued += 1
            return 200, {"correlationId": str(uuid.uuid4()), "token": token}
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return self._error(401, "Unauthorized")
        if path == "/api/1/organizations":
            org = {"id": self.organization_id, "name": "Ресторан", "country": "RU"}
            return 200, {"correlationId": str(uuid.uuid4()), "organizations": [org]}
        if path == "/api/1/deliveries/by_revision":
            return self._orders_by_revision(body)
        if body.get("organizationId") != self.organization_id:
            return self._error(400, "Unknown organization")
        method = path.removeprefix(PREFIX) if path.startswith(PREFIX) else ""
        handler = {
            "customer/info": self._info,
            "customer/create_or_update": self._create_or_update,
            "customer/wallet/topup": self._topup,
            "customer/wallet/chargeoff": self._chargeoff,
            "customer/transactions/by_revision": self._by_revision,
        }.get(method)
        if handler is None:
            return self._error(404, "Not found")
        return handler(body)

    def _find(self, body: dict[str, Any]) -> IikoGuest | None:
        if body.get("type") == "id" or ("customerId" in body and "type" not in body):
            return self.guests.get(str(body.get("id") or body.get("customerId")))
        phone = body.get("phone")
        return next((g for g in self.guests.values() if g.phone == phone), None)

    def _info(self, body: dict[str, Any]) -> tuple[int, Any]:
        guest = self._find(body)
        if guest is None:
            return self._error(400, "There is no user with phone")
        return 200, guest.wire()

    def _create_or_update(self, body: dict[str, Any]) -> tuple[int, Any]:
        guest = self.guests.get(str(body.get("id"))) if body.get("id") else None
        guest = guest or next(
            (g for g in self.guests.values() if g.phone == body.get("phone")), None
        )
        if guest is None:
            if not str(body.get("phone") or "").startswith("+"):
                return self._error(400, "Phone is required")
            guest = IikoGuest(str(uuid.uuid4()), str(body["phone"]))
            self.guests[guest.id] = guest
        guest.name = str(body.get("name") or guest.name)
        return 200, {"id": guest.id}

    def _wallet(self, body: dict[str, Any]) -> tuple[IikoGuest | None, Decimal, str]:
        guest = self.guests.get(str(body.get("customerId")))
        if guest is None or body.get("walletId") != guest.wallet_id:
            return None, Decimal(0), "Wallet not found"
        amount = Decimal(str(body.get("sum")))
        if amount <= 0:
            return None, amount, "Sum must be positive"
        return guest, amount, ""

    def _topup(self, body: dict[str, Any]) -> tuple[int, Any]:
        guest, amount, error = self._wallet(body)
        if guest is None:
            return self._error(400, error)
        self._move(guest, amount, str(body.get("comment") or ""))
        return 200, {}

    def _chargeoff(self, body: dict[str, Any]) -> tuple[int, Any]:
        guest, amount, error = self._wallet(body)
        if guest is None:
            return self._error(400, error)
        if amount > guest.balance:
            return self._error(400, "Not enough money on the wallet")
        self._move(guest, -amount, str(body.get("comment") or ""))
        return 200, {}

    def _by_revision(self, body: dict[str, Any]) -> tuple[int, Any]:
        guest = self.guests.get(str(body.get("customerId")))
        if guest is None:
            return self._error(400, "Customer not found")
        after = int(body.get("revision") or 0)
        size = max(1, min(int(body.get("pageSize") or 100), 1000))
        mine = [t for t in self.transactions if t.customer_id == guest.id and t.revision > after]
        page = mine[:size]
        last = page[-1] if page else None
        return 200, {
            "transactions": [t.wire() for t in page],
            "lastRevision": last.revision if last else after,
            "lastTransactionId": last.id if last else body.get("lastTransactionId"),
        }

    def _orders_by_revision(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.organization_id not in (body.get("organizationIds") or []):
            return self._error(400, "Unknown organization")
        after = int(body.get("startRevision") or 0)
        found = [o for r, o in self.orders if r > after]
        top = max([r for r, _ in self.orders if r > after], default=after)
        return 200, {
            "correlationId": str(uuid.uuid4()),
            "maxRevision": top,
            "ordersByOrganizations": [{"organizationId": self.organization_id, "orders": found}],
        }

    # --- running: JSON bodies and headers (the form-bodied base does not fit) ----------------
    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    self._answer(*IikoFake._error(400, "Body must be a JSON object"))
                    return
                auth = self.headers.get("Authorization") or ""
                path = self.path.split("?", 1)[0]
                self._answer(*fake.serve(path, body, auth, fake.take_fault()))

            def _answer(self, status: int, payload: Any) -> None:
                send_json(self, status, payload, (("Retry-After", "0"),) if status == 429 else ())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._run(Handler)
