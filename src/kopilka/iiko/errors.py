"""iikoCloud's error envelope as typed errors (``reference/integrations.md`` §4.1)."""

from __future__ import annotations


class IikoError(Exception):
    """An answer iikoCloud gave (or failed to give); ``description`` is iiko's own words."""

    def __init__(self, status: int, description: str, correlation_id: str = "") -> None:
        super().__init__(f"iikoCloud {status}: {description}")
        self.status = status
        self.description = description
        self.correlation_id = correlation_id


class IikoRejected(IikoError):
    """4xx: the request was refused (bad organization, unknown guest, not enough money)."""


class IikoUnauthorized(IikoError):
    """401 twice in a row (a fresh token refused too): the API login is wrong or revoked."""


class IikoRateLimited(IikoError):
    """429: too many calls; ``retry_after`` seconds as iiko said (None: not said)."""

    def __init__(self, description: str, retry_after: float | None) -> None:
        super().__init__(429, description)
        self.retry_after = retry_after


class IikoUnavailable(IikoError):
    """5xx or no connection: nothing reached iiko, or iiko failed; safe to try later."""


class IikoTimeout(IikoError):
    """408, or no answer in time: a write's outcome is unknown — it may have landed."""
