"""A local Google Wallet: the OAuth token server and the Wallet REST API's loyalty classes and
objects (``reference/integrations.md`` §2.2–2.6), over real HTTP on 127.0.0.1.

* ``POST /token``: the JWT-bearer grant. The assertion must be signed (RS256) by a registered
  service account's key (``accounts``: client email → public key PEM), name the wallet scope
  and not be expired; ``aud`` is not compared with this server's URL (google-auth sends
  Google's own whatever the URI). The answer is a random access token for an hour.
* ``/walletobjects/v1/loyaltyClass`` and ``/loyaltyObject``: ``POST`` (409 when the id exists),
  ``GET /{id}`` (404), ``PATCH /{id}`` (fields replaced, 404), each with ``Authorization:
  Bearer <token>`` (401 otherwise). Ids must be ``{issuer}.{suffix}`` of this fake's issuer;
  a class needs ``issuerName``, ``programName``, ``programLogo`` and a ``reviewStatus`` of
  ``UNDER_REVIEW`` or ``DRAFT``; an object an existing ``classId`` and a ``state``, and a
  ``loyaltyPoints.balance`` with exactly one of ``string``, ``int``, ``double``, ``money``.
  Errors come in Google's envelope ``{"error": {"code", "message", "status"}}``.

``calls`` records (method, path, JSON body) of every REST call; ``fail_next(n, status)`` answers
the next ``n`` REST calls with that status.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt

from kopilka.fakes._server import LocalServer, send_json

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
PREFIX = "/walletobjects/v1/"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}
STATUS |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
BALANCE_KINDS = {"string", "int", "double", "money"}
ID = re.compile(r"^[0-9]+\.[A-Za-z0-9._-]+$")


class FakeGoogleWallet(LocalServer):
    def __init__(self, issuer_id: str = "3388000000012345678") -> None:
        super().__init__()
        self.issuer_id = issuer_id
        self.accounts: dict[str, str] = {}  # client email → public key PEM
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.classes: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.lock = threading.Lock()
        self._fail: list[int] = []

    # --- knobs -------------------------------------------------------------------------------
    def add_account(self, email: str, public_key_pem: str) -> None:
        self.accounts[email] = public_key_pem

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        with self.lock:
            self._fail += [status] * n

    def rest_calls(self, method: str | None = None) -> list[tuple[str, str, dict[str, Any] | None]]:
        with self.lock:
            return [c for c in self.calls if method is None or c[0] == method]

    # --- the token server ----------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        assertion = form.get("assertion", "")
        try:
            email = jwt.decode(assertion, options={"verify_signature": False})["iss"]
            key = self.accounts[email]
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["iss", "exp", "iat", "scope"]},
            )
        except (jwt.PyJWTError, KeyError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if SCOPE not in str(claims["scope"]).split():
            return 400, {"error": "invalid_scope"}
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    # --- the REST API --------------------------------------------------------------------------
    def rest(
        self, method: str, path: str, auth: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((method, path, body))
            if self._fail:
                return _error(self._fail.pop(0), "failing on purpose")
            if auth.removeprefix("Bearer ") not in self.tokens:
                return _error(401, "Request had invalid authentication credentials.")
            kind, _, resource_id = path.removeprefix(PREFIX).partition("/")
            store = {"loyaltyClass": self.classes, "loyaltyObject": self.objects}.get(kind)
            if store is None:
                return _error(404, f"no such collection {kind}")
            if method == "POST" and not resource_id:
                return self._insert(kind, store, body or {})
            if resource_id not in store:
                return _error(404, f"Resource {resource_id} not found")
            if method == "GET":
                return 200, store[resource_id]
            if method == "PATCH":
                merged = {**store[resource_id], **(body or {})}
                merged.pop("notifyPreference", None)
                if problem := self._invalid(kind, merged):
                    return _error(400, problem)
                store[resource_id] = merged
                return 200, merged
            return _error(400, f"{method} is not supported here")

    def _insert(
        self, kind: str, store: dict[str, dict[str, Any]], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if problem := self._invalid(kind, body):
            return _error(400, problem)
        if body["id"] in store:
            return _error(409, f"Resource {body['id']} already exists")
        store[body["id"]] = dict(body)
        return 200, body

    def _invalid(self, kind: str, body: dict[str, Any]) -> str | None:
        resource_id = str(body.get("id") or "")
        if not ID.match(resource_id) or not resource_id.startswith(self.issuer_id + "."):
            return f"bad id {resource_id!r} for issuer {self.issuer_id}"
        if kind == "loyaltyClass":
            for name in ("issuerName", "programName", "programLogo"):
                if not body.get(name):
                    return f"{name} is required"
            if body.get("reviewStatus") not in ("UNDER_REVIEW", "DRAFT"):
                return "reviewStatus must be UNDER_REVIEW or DRAFT"
            return None
        if body.get("classId") not in self.classes:
            return f"class {body.get('classId')!r} does not exist"
        if not body.get("state"):
            return "state is required"
        points = body.get("loyaltyPoints")
        if points is not None:
            kinds = set(points.get("balance") or {}) & BALANCE_KINDS
            if len(kinds) != 1 or set(points.get("balance") or {}) - BALANCE_KINDS:
                return "loyaltyPoints.balance takes exactly one of string, int, double, money"
        return None

    # --- running -----------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + PREFIX.rstrip("/")

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                path = urlsplit(self.path).path
                if path == "/token" and self.command == "POST":
                    status, answer = fake.token(dict(parse_qsl(raw)))
                elif path.startswith(PREFIX):
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = None
                    auth = self.headers.get("Authorization") or ""
                    status, answer = fake.rest(self.command, path, auth, body)
                else:
                    status, answer = _error(404, "unknown path")
                send_json(self, status, answer)

            do_GET = do_POST = do_PATCH = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._run(Handler)


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": STATUS.get(code, "")}}
