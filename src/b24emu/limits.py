"""The two cloud limits: the leaky bucket (§3.1) and the operating-time limit (§3.2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 600.0


@dataclass
class LeakyBucket:
    burst: int
    per_second: float
    level: float = 0.0
    updated: float = field(default_factory=time.monotonic)

    def _drain(self, now: float) -> None:
        self.level = max(0.0, self.level - (now - self.updated) * self.per_second)
        self.updated = now

    def admit(self, now: float | None = None) -> bool:
        """Add one request; ``False`` (and nothing added) when it would overflow the burst."""
        self._drain(time.monotonic() if now is None else now)
        if self.level + 1 > self.burst:
            return False
        self.level += 1
        return True


class OperatingLimiter:
    """Per (app or webhook, method): seconds of execution summed over a sliding 10 minutes.

    Buckets are opened at the first call of a minute and live 10 minutes, like the cloud's.
    A call is refused (429) when the sum *already* exceeds the limit; the call that crosses
    the limit still runs.
    """

    def __init__(self, limit: float | None, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[tuple[str, str], list[list[float]]] = {}

    def _live(self, key: tuple[str, str]) -> list[list[float]]:
        now = self.clock()
        buckets = [b for b in self._buckets.get(key, []) if b[0] + WINDOW_SECONDS > now]
        self._buckets[key] = buckets
        return buckets

    def used(self, key: tuple[str, str]) -> float:
        return sum(b[1] for b in self._live(key))

    def blocked(self, key: tuple[str, str]) -> bool:
        return self.limit is not None and self.used(key) > self.limit

    def add(self, key: tuple[str, str], seconds: float) -> None:
        buckets = self._live(key)
        now = self.clock()
        if buckets and now - buckets[-1][0] < 60.0:
            buckets[-1][1] += seconds
        else:
            buckets.append([now, seconds])

    def reset_at(self, key: tuple[str, str]) -> int:
        buckets = self._live(key)
        start = buckets[0][0] if buckets else self.clock()
        return int(start + WINDOW_SECONDS)

    def clear(self) -> None:
        self._buckets.clear()
