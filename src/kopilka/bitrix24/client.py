"""Kopilka's thin async Bitrix24 REST client (DESIGN D3); the guide is docs/bitrix24-client.md.

Every call is a ``POST`` with a JSON body to ``{base}{method}.json`` (JSON keeps nested params,
numbers and empty strings as given; the portal accepts it for every method, reference §2.1);
``batch`` sub-commands are query strings (:func:`php_query`). Each request first takes a permit
from the portal's shared rate limiter. Retried: 503 ``QUERY_LIMIT_EXCEEDED`` (after pausing the
limiter for everybody) and 429 ``OPERATION_TIME_LIMIT`` (after ``operating_reset_at``), because
the request did not run; connection errors before sending; 401 ``expired_token`` once, after a
shared refresh. 500/502/504 and errors after sending are retried for reads only: a write may
have run, so it raises :class:`B24ServerError` / :class:`B24TransportError` (``may_have_run``).
Secrets never reach messages or logs (:func:`~kopilka.bitrix24.errors.redact`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from kopilka.bitrix24.auth import Auth
from kopilka.bitrix24.errors import (
    B24AccessDenied,
    B24AuthError,
    B24BatchError,
    B24Error,
    B24InvalidCredentials,
    B24OperationLimit,
    B24RateLimited,
    B24ServerError,
    B24TokenExpired,
    B24TransportError,
    from_envelope,
    install_log_redaction,
    redact,
)
from kopilka.bitrix24.limiter import RateLimiter
from kopilka.bitrix24.wire import json_default, php_query

PAGE_SIZE = 50  # fixed by the portal (reference §4.1)
MAX_BATCH = 50  # commands per batch (reference §5)
_METHOD = re.compile(r"^[A-Za-z0-9_.]+$")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: ``batch`` commands by the caller's key: ``{"d": ("crm.deal.get", {"id": 1})}``
Commands = Mapping[str, tuple[str, Mapping[str, Any]]]
_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": "kopilka",
}


@dataclass(frozen=True)
class Envelope:
    """A success envelope: ``result`` plus the list navigation and the timing block."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)


def _keyed(value: Any) -> dict[str, Any]:
    """A batch ``result_*`` member: ``[]`` when empty, a list for numeric keys, else a dict."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class HealthReporter(Protocol):
    """Told each call's outcome (``kopilka.bitrix24.health.PortalHealth``)."""

    async def ok(self) -> None: ...

    async def failed(self, error: BaseException) -> None: ...


#: Errors that say the connection itself is broken (not one command refused).
CONNECTION_ERRORS = (B24AuthError, B24TransportError, B24ServerError, B24AccessDenied)


class Bitrix24Client:
    """One portal's REST client. Share one per portal per process (one limiter, one auth)."""

    def __init__(
        self,
        auth: Auth,
        *,
        limiter: RateLimiter,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        logger: logging.Logger | None = None,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_operation_wait: float = 600.0,
        health: HealthReporter | None = None,
    ) -> None:
        self.auth = auth
        self.health = health
        self.limiter = limiter
        self._own_http = http is None
        self.http = http if http is not None else httpx.AsyncClient()
        self.timeout = timeout
        self.max_retries = max_retries
        self.log = logger or logging.getLogger("kopilka.bitrix24")
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_operation_wait = max_operation_wait
        # counters, for benchmarks and metrics
        self.requests = self.commands = 0
        self.retries_503 = self.retries_other = 0
        self._reset_at: dict[str, float] = {}  # method -> operating_reset_at, portal clock
        self._blocked: dict[str, float] = {}  # method -> monotonic time it may run again
        self._skew = 0.0  # portal clock minus local clock, from the last success
        install_log_redaction()

    def __repr__(self) -> str:
        return f"Bitrix24Client({self.auth!r})"

    @property
    def refreshes(self) -> int:
        """Token-endpoint calls made for this client (proactive and after ``expired_token``)."""
        return self.auth.refreshes

    async def __aenter__(self) -> Bitrix24Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # --- single calls ---------------------------------------------------------------------

    async def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, write: bool = False
    ) -> Any:
        """Call ``method`` and return its ``result``. ``write=True`` for calls that change the
        portal: they are not re-sent when they may have run."""
        return (await self.call_envelope(method, params, write=write)).result

    async def call_envelope(
        self, method: str, params: Mapping[str, Any] | None = None, *, write: bool = False
    ) -> Envelope:
        data = await self._send(method, dict(params or {}), write=write, commands=1)
        total, next_ = _int(data.get("total")), _int(data.get("next"))
        return Envelope(data.get("result"), total, next_, data.get("time") or {})

    # --- batch ----------------------------------------------------------------------------

    async def batch(
        self, commands: Commands, *, halt: bool = False, write: bool = False
    ) -> dict[str, Any]:
        """Run up to 50 commands in one request; results by key. Any failed command raises
        :class:`B24BatchError`, which carries the results of the others."""
        try:
            envelopes = await self.batch_envelopes(commands, halt=halt, write=write)
        except B24BatchError as exc:
            exc.results = {k: e.result for k, e in exc.results.items()}
            raise
        return {key: env.result for key, env in envelopes.items()}

    async def batch_envelopes(
        self, commands: Commands, *, halt: bool = False, write: bool = False
    ) -> dict[str, Envelope]:
        """Like :meth:`batch`, with each command's ``total``/``next``/``time``."""
        if len(commands) > MAX_BATCH:
            raise ValueError(f"a batch takes at most {MAX_BATCH} commands, got {len(commands)}")
        if not commands:
            return {}
        cmd = {}
        for key, (method, params) in commands.items():
            self._check_method(method)
            query = php_query(params)
            cmd[str(key)] = f"{method}?{query}" if query else method
        data = await self._send(
            "batch", {"halt": int(halt), "cmd": cmd}, write=write, commands=len(cmd)
        )
        inner = data.get("result") if isinstance(data.get("result"), Mapping) else {}
        assert isinstance(inner, Mapping)
        results, failed = _keyed(inner.get("result")), _keyed(inner.get("result_error"))
        totals, nexts = _keyed(inner.get("result_total")), _keyed(inner.get("result_next"))
        times = _keyed(inner.get("result_time"))
        envelopes = {
            key: Envelope(
                results[key], _int(totals.get(key)), _int(nexts.get(key)), times.get(key) or {}
            )
            for key in cmd
            if key in results and key not in failed
        }
        if failed:
            secrets = self.auth.secrets()
            errors = {
                key: from_envelope(
                    None, body, commands[key][0] if key in commands else "batch", secrets=secrets
                )
                for key, body in failed.items()
            }
            not_run = [k for k in cmd if k not in envelopes and k not in errors]
            raise B24BatchError(errors, envelopes, not_run=not_run)
        return envelopes

    async def batch_many(self, commands: Commands, *, write: bool = False) -> dict[str, Any]:
        """Any number of commands, sent sequentially in full batches of 50.

        Failed commands are collected and raised together as :class:`B24BatchError` (with every
        result obtained). If a whole request fails after earlier chunks succeeded, the error is
        also a :class:`B24BatchError`: that chunk's keys carry the error, later keys are
        ``not_run``. If the very first request fails, its error propagates unchanged."""
        keys = list(commands)
        results: dict[str, Any] = {}
        errors: dict[str, B24Error] = {}
        for start in range(0, len(keys), MAX_BATCH):
            chunk = {key: commands[key] for key in keys[start : start + MAX_BATCH]}
            try:
                results.update(await self.batch(chunk, write=write))
            except B24BatchError as exc:
                results.update(exc.results)
                errors.update(exc.errors)
            except B24Error as exc:
                if not results and not errors:
                    raise
                errors.update(dict.fromkeys(chunk, exc))
                raise B24BatchError(errors, results, not_run=keys[start + MAX_BATCH :]) from exc
        if errors:
            raise B24BatchError(errors, results)
        return results

    # --- lists ----------------------------------------------------------------------------

    async def list_all(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        id_key: str = "ID",
        result_key: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of a ``*.list`` method, by keyset paging (reference §4.3): ordered by
        ``id_key``, ``filter[>id_key]`` = the last ID seen, ``start=-1`` (no counting); stops at
        a short page. ``crm.item.list``: ``id_key="id", result_key="items"``."""
        base = dict(params or {})
        select = base.get("select")
        if select and id_key not in select and "*" not in select:
            base["select"] = [*select, id_key]
        last = 0
        while True:
            page_params = {
                **base,
                "filter": {**(base.get("filter") or {}), f">{id_key}": last},
                "order": {id_key: "ASC"},
                "start": -1,
            }
            result = await self.call(method, page_params)
            items = (result or {}).get(result_key, []) if result_key else (result or [])
            for item in items:
                yield item
            if len(items) < PAGE_SIZE:
                return
            after = int(items[-1][id_key])
            if after <= last:
                raise B24ServerError(f"{method}: keyset paging did not advance past {last}")
            last = after

    # --- the request loop -----------------------------------------------------------------

    def _check_method(self, method: str) -> None:
        if not _METHOD.match(method):
            raise ValueError(f"not a Bitrix24 method name: {method!r}")

    def _delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    async def _send(
        self, method: str, payload: dict[str, Any], *, write: bool, commands: int
    ) -> dict[str, Any]:
        """One call with its retries; its outcome told to ``health`` (the portal's connection:
        an answer is health, broken credentials or an unreachable portal are not, a refused
        command — not found, bad request — says nothing about the connection)."""
        try:
            data = await self._attempts(method, payload, write=write, commands=commands)
        except B24Error as exc:
            if self.health is not None and isinstance(exc, CONNECTION_ERRORS):
                await self.health.failed(exc)
            raise
        if self.health is not None:
            await self.health.ok()
        return data

    async def _attempts(
        self, method: str, payload: dict[str, Any], *, write: bool, commands: int
    ) -> dict[str, Any]:
        self._check_method(method)
        attempt = 0
        auth_retried = False
        while True:
            blocked = self._blocked.get(method, 0.0) - time.monotonic()
            if blocked > 0:
                await asyncio.sleep(blocked)
            await self.limiter.acquire()
            version = 0
            try:
                prepared = await self.auth.prepare(method, self.http)
                version = prepared.version
                data = await self._post(
                    method, prepared.url, {**payload, **prepared.params}, commands
                )
                return data
            except B24Error as exc:
                error = exc
            if isinstance(error, B24TokenExpired | B24InvalidCredentials) and not auth_retried:
                auth_retried = True
                if isinstance(error, B24TokenExpired):
                    await self.auth.refresh(version, self.http)
                    self.log.info("%s: access token expired, refreshed", self.auth.domain)
                    continue
                if await self.auth.reload(version):  # another process rotated the tokens
                    continue
            if attempt >= self.max_retries:
                raise error
            delay = await self._retry_delay(error, method, write, attempt)
            if delay is None:
                raise error
            attempt += 1
            level = logging.INFO if isinstance(error, B24RateLimited) else logging.WARNING
            self.log.log(
                level, "%s: %s refused (%s), retry %d in %.2fs",
                self.auth.domain, method, error.b24_error or error.code, attempt, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)

    async def _retry_delay(
        self, error: B24Error, method: str, write: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` when the error must propagate."""
        if isinstance(error, B24RateLimited):
            self.retries_503 += 1
            await self.limiter.pause(self._delay(attempt))
            return 0.0  # the limiter holds every process until the pause is over
        if isinstance(error, B24OperationLimit):
            reset_at = error.reset_at or self._reset_at.get(method)
            if reset_at is None:
                return None
            error.reset_at = reset_at
            # + 1 s: the portal reports whole seconds, truncated
            wait = max(0.0, reset_at - (time.time() + self._skew)) + 1.0
            if wait > self.max_operation_wait:
                return None
            self._blocked[method] = time.monotonic() + wait
            self.retries_other += 1
            return wait
        sent = isinstance(error, B24ServerError) or (
            isinstance(error, B24TransportError) and error.may_have_run
        )
        unsent = isinstance(error, B24TransportError) and not error.may_have_run
        if unsent or (sent and not write):
            self.retries_other += 1
            return self._delay(attempt) / 4
        return None

    async def _post(
        self, method: str, url: str, body: dict[str, Any], commands: int
    ) -> dict[str, Any]:
        self.requests += 1
        self.commands += commands
        started = time.monotonic()
        try:
            content = json.dumps(body, ensure_ascii=False, default=json_default).encode()
            response = await self.http.post(
                url, content=content, headers=_HEADERS, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            not_sent = isinstance(exc, _NOT_SENT)
            detail = redact(str(exc), self.auth.secrets())
            raise B24TransportError(
                f"{method}: {type(exc).__name__}{': ' + detail if detail else ''}"
                f"{' (not sent)' if not_sent else ''}",
                may_have_run=not not_sent,
                method=method,
                secrets=self.auth.secrets(),
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        self.log.debug(
            "%s: %s -> %d in %.0f ms",
            self.auth.domain, method, response.status_code, (time.monotonic() - started) * 1000,
        )  # fmt: skip
        if response.status_code == 200 and isinstance(data, dict) and "error" not in data:
            timing = data.get("time")
            if isinstance(timing, Mapping):
                if timing.get("finish") is not None:
                    self._skew = float(timing["finish"]) - time.time()
                if timing.get("operating_reset_at") is not None:
                    self._reset_at[method] = float(timing["operating_reset_at"])
            return data
        raise from_envelope(response.status_code, data, method, secrets=self.auth.secrets())


__all__ = ["MAX_BATCH", "PAGE_SIZE", "Bitrix24Client", "Commands", "Envelope", "php_query"]
