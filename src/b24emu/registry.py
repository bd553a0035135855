"""The method table: name -> handler, scope, whether an application context is required."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from b24emu.auth import App, Webhook
    from b24emu.portal import Portal


@dataclass
class Auth:
    """Who is calling: an incoming webhook, an OAuth app token, or ``portal.call``."""

    kind: str  # "webhook" | "oauth" | "internal"
    user_id: int
    scopes: frozenset[str] | None = None  # None = every scope
    app: App | None = None
    webhook: Webhook | None = None
    token: str | None = None

    @property
    def limiter_key(self) -> str:
        if self.app is not None:
            return f"app:{self.app.client_id}"
        if self.webhook is not None:
            return f"webhook:{self.webhook.code}"
        return "internal"


@dataclass
class Call:
    portal: Portal
    method: str
    params: dict[str, Any]
    auth: Auth
    start: Any = None  # the top-level ``start`` parameter, removed from params (§4.1)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> int:
        return self.auth.user_id


@dataclass
class Page:
    """A list result: ``total``/``next`` are lifted to the top of the envelope when not None."""

    result: Any
    total: int | None = None
    next: int | None = None


@dataclass(frozen=True)
class MethodSpec:
    name: str
    func: Callable[[Call], Any]
    scope: str
    app_only: bool = False
    batchable: bool = True


REGISTRY: dict[str, MethodSpec] = {}


def method(
    name: str, scope: str, *, app_only: bool = False, batchable: bool = True
) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    def register(func: Callable[[Call], Any]) -> Callable[[Call], Any]:
        REGISTRY[name.lower()] = MethodSpec(name.lower(), func, scope, app_only, batchable)
        return func

    return register
