"""Knobs and counters: rate-limit settings, fault injection, statistics."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class RateLimit:
    """Leaky bucket (§3.1): each request adds 1, the level drains at ``per_second``.

    Non-Enterprise plans: burst 50, 2 req/s; Enterprise: burst 250, 5 req/s.
    """

    burst: int = 50
    per_second: float = 2.0
    enabled: bool = True


@dataclass(frozen=True)
class CommandError:
    """One kind of REST command answered with an error instead of running: calls of ``method``
    (lower-case) whose parameters mention ``mentions`` anywhere (``filter[@ID][3]=17`` mentions
    17), or every call of it when ``mentions`` is None. Inside a ``batch`` only that command
    fails; the others run as usual. The default is what a deleted deal's product rows answer
    (``crm.item.productrow.list``, §7.3.3)."""

    method: str
    mentions: int | str | None = None
    code: str = "ACCESS_DENIED"
    description: str = "Access denied"
    status: int = 400

    def hits(self, method: str, params: Mapping[str, Any]) -> bool:
        return method == self.method.lower() and (
            self.mentions is None or _mentions(params, str(self.mentions))
        )


def _mentions(value: Any, wanted: str) -> bool:
    if isinstance(value, Mapping):
        return any(_mentions(v, wanted) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, wanted) for v in value)
    return value is not None and str(value) == wanted


@dataclass(frozen=True)
class Faults:
    """Fault injection, settable at any time via ``portal.faults = Faults(...)``.

    * ``drop_events`` — fraction of outbound events never sent;
    * ``duplicate_events`` — fraction sent twice;
    * ``delay_events`` — seconds every event waits in the queue before it may be sent;
    * ``reorder_events`` — shuffle the pending queue before each send round;
    * ``error_500_rate`` — fraction of REST requests answered with 500 without running;
    * ``slow_seconds`` — every REST answer is delayed by this much;
    * ``command_errors`` — REST commands answered with an error (:class:`CommandError`), also
      one sub-command of a ``batch`` alone; calls made with ``portal.call`` are never failed;
    * ``seed`` — seed of the ``random.Random`` used for all of the above.
    """

    drop_events: float = 0.0
    duplicate_events: float = 0.0
    delay_events: float = 0.0
    reorder_events: bool = False
    error_500_rate: float = 0.0
    slow_seconds: float = 0.0
    command_errors: tuple[CommandError, ...] = ()
    seed: int = 1


@dataclass
class Stats:
    """Counters; read them directly (``portal.stats.rejected_503``), zero them with ``reset()``."""

    requests_total: int = 0
    requests_by_method: dict[str, int] = field(default_factory=dict)
    batch_commands_total: int = 0
    rejected_503: int = 0
    rejected_429: int = 0
    errors_500: int = 0
    events_sent: int = 0
    events_failed: int = 0
    events_dropped: int = 0
    events_duplicated: int = 0
    max_bucket_level: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def count_method(self, method: str) -> None:
        with self._lock:
            self.requests_total += 1
            self.requests_by_method[method] = self.requests_by_method.get(method, 0) + 1

    def note_level(self, level: float) -> None:
        with self._lock:
            self.max_bucket_level = max(self.max_bucket_level, level)

    def reset(self) -> None:
        with self._lock:
            for item in fields(self):
                if item.name == "_lock":
                    continue
                setattr(self, item.name, {} if item.name == "requests_by_method" else 0)
            self.max_bucket_level = 0.0
