"""The emulated portal: state, credentials, limits, and the request pipeline."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import threading
import time
from typing import Any

from b24emu import errors, methods  # noqa: F401 - methods registers the REST methods
from b24emu.auth import (
    OAUTH_SERVER_DOMAIN,
    AuthRegistry,
)
from b24emu.auth import authenticate as resolve_auth
from b24emu.config import Faults, RateLimit, Stats
from b24emu.credentials import Credentials
from b24emu.errors import ApiError
from b24emu.events import EventBus
from b24emu.frames import Frames
from b24emu.limits import LeakyBucket, OperatingLimiter
from b24emu.registry import REGISTRY, Auth, Call, Page
from b24emu.robots import BizprocControl
from b24emu.store import Store
from b24emu.wire import fmt_datetime, parse_offset, php_json

log = logging.getLogger("b24emu")


def normalize_method(name: str) -> str:
    name = name.strip("/").lower()
    for suffix in (".json", ".xml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


class Portal(Credentials, BizprocControl, Store):
    """One Bitrix24 portal. All public knobs may be changed at any time (see docs/emulator.md)."""

    def __init__(
        self,
        member_id: str = "emu-member-1",
        domain: str = "emu.bitrix24.test",
        tz_offset: str = "+03:00",
        rate_limit: RateLimit | None = None,
        operating_limit_seconds: float | None = 480.0,
    ) -> None:
        super().__init__(parse_offset(tz_offset))
        self.member_id = member_id
        self.domain = domain
        self.tz_offset = tz_offset
        self.lang = "ru"
        self.currency = "RUB"
        #: DealSettings "close date sync": a deal reaching a final stage gets CLOSEDATE = today
        #: (unless the same update sets it); False leaves CLOSEDATE as it was
        self.close_date_sync = True
        self.license = "ru_project"
        self.base_url: str | None = None
        self.oauth_server_domain = OAUTH_SERVER_DOMAIN
        self.access_token_ttl = 3600.0
        self.method_cost_seconds: dict[str, float] = {}
        #: ``crm.item.productrow.list`` as its newest docs read: an array in ``=ownerId`` is
        #: refused (``INVALID_ARG_VALUE``) instead of filtering by several deals
        self.strict_product_rows = False
        #: a CRM tab's ``PLACEMENT_OPTIONS`` carries ``URI`` (False: only ``ID``, as when the
        #: browser sent no Referer — the docs say it may be absent)
        self.placement_uri = True
        #: the app page (DEFAULT) gets ``PLACEMENT``/``PLACEMENT_OPTIONS`` (False: neither, as
        #: the simplified-OAuth page's example shows it)
        self.default_placement_fields = True
        self.frames = Frames()
        self.stats = Stats()
        self.auth = AuthRegistry()
        self.events = EventBus(self)
        self.lock = threading.RLock()
        self._rng_lock = threading.Lock()
        self._faults = Faults()
        self._rng = random.Random(self._faults.seed)  # noqa: S311 - fault injection, not crypto
        self._rate_limit = rate_limit or RateLimit()
        self._buckets: dict[str, LeakyBucket] = {}
        self.operating = OperatingLimiter(operating_limit_seconds)
        from b24emu.seed import seed_base

        seed_base(self)

    @classmethod
    def seeded(cls, name: str = "demo", **kwargs: Any) -> Portal:
        from b24emu.seed import SEEDS

        if name not in SEEDS:
            raise ValueError(f"unknown seed {name!r}; known: {', '.join(SEEDS)}")
        portal = cls(**kwargs)
        SEEDS[name](portal)
        return portal

    # -- knobs ------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        with self._rng_lock:
            self._faults = value
            self._rng = random.Random(value.seed)  # noqa: S311

    @property
    def rate_limit(self) -> RateLimit:
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit) -> None:
        self._rate_limit = value
        self._buckets.clear()

    @property
    def operating_limit_seconds(self) -> float | None:
        return self.operating.limit

    @operating_limit_seconds.setter
    def operating_limit_seconds(self, value: float | None) -> None:
        self.operating.limit = value

    def random_below(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < probability

    def random_shuffle(self, items: list[Any]) -> None:
        with self._rng_lock:
            self._rng.shuffle(items)

    # -- endpoints --------------------------------------------------------------------------
    @property
    def client_endpoint(self) -> str:
        return f"{self.base_url}/rest/" if self.base_url else f"https://{self.domain}/rest/"

    @property
    def server_endpoint(self) -> str:
        return (
            f"{self.base_url}/oauth/rest/" if self.base_url else "https://oauth.bitrix.info/rest/"
        )

    @property
    def oauth_token_url(self) -> str:
        base = self.base_url or "https://oauth.bitrix.info"
        return f"{base}/oauth/token/"

    # -- events -----------------------------------------------------------------------------
    def wait_events_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued outbound event was delivered (or dropped)."""
        return self.events.wait_idle(timeout)

    async def flush_events(self, timeout: float = 5.0) -> bool:
        return await asyncio.to_thread(self.events.wait_idle, timeout)

    def close(self) -> None:
        self.events.stop()

    # -- calling ----------------------------------------------------------------------------
    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        user_id: int = 1,
        automation: bool = False,
    ) -> dict[str, Any]:
        """Run a method in-process as ``user_id``: same semantics and events, no rate limit.

        ``automation=True`` makes the change look like a robot's: events carry no tokens.
        """
        auth = Auth("internal", user_id)
        with self.lock, self.events.hit(automation=automation):
            _status, envelope = self.execute(method, copy.deepcopy(params or {}), auth)
        result: dict[str, Any] = json.loads(php_json(envelope))
        return result

    def handle_http(
        self,
        method: str,
        webhook: tuple[str, str] | None,
        params: dict[str, Any],
        bearer: str | None,
        source: str,
    ) -> tuple[int, dict[str, Any]]:
        """One REST request from the HTTP front: limits, faults, auth, then :meth:`execute`."""
        method = normalize_method(method)
        self.stats.count_method(method)
        with self.lock:
            if self.rate_limit.enabled:
                bucket = self._buckets.get(source)
                if bucket is None:
                    bucket = LeakyBucket(self.rate_limit.burst, self.rate_limit.per_second)
                    self._buckets[source] = bucket
                if not bucket.admit():
                    self.stats.bump("rejected_503")
                    return 503, errors.system(errors.QUERY_LIMIT).envelope()
                self.stats.note_level(bucket.level)
            if self.random_below(self.faults.error_500_rate):
                self.stats.bump("errors_500")
                return 500, errors.system(errors.INTERNAL).envelope()
            try:
                if method not in REGISTRY:
                    raise errors.system(errors.METHOD_NOT_FOUND)
                auth = resolve_auth(self, webhook, params, bearer)
            except ApiError as exc:
                return exc.status, exc.envelope()
            for key in ("auth", "access_token"):
                params.pop(key, None)
            with self.events.hit():
                return self.execute(method, params, auth)

    def execute(
        self, method: str, params: dict[str, Any], auth: Auth, in_batch: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Run one method call (also each ``batch`` sub-command) and build its envelope."""
        method = normalize_method(method)
        try:
            return self._execute(method, params, auth, in_batch)
        except ApiError as exc:
            if exc.status == 429:
                self.stats.bump("rejected_429")
            return exc.status, exc.envelope()
        except Exception:
            log.exception("b24emu: %s failed", method)
            return 500, errors.system(errors.INTERNAL).envelope()

    def _execute(
        self, method: str, params: dict[str, Any], auth: Auth, in_batch: bool
    ) -> tuple[int, dict[str, Any]]:
        spec = REGISTRY.get(method)
        if spec is None:
            raise errors.system(errors.METHOD_NOT_FOUND)
        if in_batch and not spec.batchable:
            raise ApiError(
                "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405
            )
        if spec.app_only and auth.kind != "oauth":
            raise errors.system(errors.WRONG_AUTH_TYPE)
        if auth.scopes is not None and spec.scope != "basic" and spec.scope not in auth.scopes:
            holder = "webhook token" if auth.kind == "webhook" else "access token"
            raise ApiError(
                "insufficient_scope",
                f"The request requires higher privileges than provided by the {holder}",
                403,
            )
        if auth.kind != "internal":
            for fault in self.faults.command_errors:
                if fault.hits(method, params):
                    raise ApiError(fault.code, fault.description, fault.status)
        start = params.pop("start", None)
        key = (auth.limiter_key, method)
        limited = auth.kind != "internal" and spec.name != "batch"
        if limited and self.operating.blocked(key):
            raise errors.system(errors.OPERATION_TIME_LIMIT)
        began = time.time()
        perf = time.perf_counter()
        with self.events.acting(str(params.get("auth_connector") or "")):
            result = spec.func(Call(self, method, params, auth, start))
        processing = time.perf_counter() - perf
        finished = time.time()
        if limited:
            self.operating.add(key, processing + self.method_cost_seconds.get(method, 0.0))
        envelope: dict[str, Any] = {}
        if isinstance(result, Page):
            envelope["result"] = result.result
            if result.next is not None:
                envelope["next"] = int(result.next)
            if result.total is not None:
                envelope["total"] = int(result.total)
        else:
            envelope["result"] = result
        envelope["time"] = self._time_block(began, finished, processing, key, limited)
        return 200, envelope

    def _time_block(
        self, began: float, finished: float, processing: float, key: tuple[str, str], limited: bool
    ) -> dict[str, Any]:
        block: dict[str, Any] = {
            "start": began,
            "finish": finished,
            "duration": finished - began,
            "processing": processing,
            "date_start": fmt_datetime(self._at(began), self.tz),
            "date_finish": fmt_datetime(self._at(finished), self.tz),
        }
        if limited and self.operating.limit is not None:
            block["operating_reset_at"] = self.operating.reset_at(key)
            block["operating"] = self.operating.used(key)
        return block

    def _at(self, stamp: float) -> Any:
        from datetime import datetime

        return datetime.fromtimestamp(stamp, self.tz)
