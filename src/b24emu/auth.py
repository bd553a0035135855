"""Credentials: incoming webhooks, OAuth apps and their tokens, the fake OAuth server (§1)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from b24emu import errors
from b24emu.errors import ApiError
from b24emu.registry import Auth

if TYPE_CHECKING:
    from b24emu.portal import Portal

REFRESH_TTL = 180 * 24 * 3600.0
CODE_TTL = 30.0
OAUTH_SERVER_DOMAIN = "oauth.bitrix.info"


def new_token(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


@dataclass
class Webhook:
    user_id: int
    code: str
    scopes: frozenset[str]


@dataclass
class OutgoingWebhook:
    id: int
    handler: str
    events: frozenset[str]
    application_token: str


@dataclass
class App:
    client_id: str
    client_secret: str
    scopes: frozenset[str]
    app_id: int
    application_token: str = field(default_factory=new_token)
    installed: bool = False
    version: int = 1
    #: "Your handler path": the app page (DEFAULT placement); None for an API-only app
    app_url: str | None = None
    #: "Initial installation path": the installer opened in a frame until installFinish
    install_url: str | None = None

    @property
    def status(self) -> str:
        return "L" if self.client_id.startswith("local.") else "F"

    @property
    def scope_text(self) -> str:
        return ",".join(sorted(self.scopes))


@dataclass
class AccessToken:
    token: str
    app: App
    user_id: int
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    app: App
    user_id: int
    expires_at: float
    valid: bool = True


class AuthRegistry:
    def __init__(self) -> None:
        self.webhooks: dict[str, Webhook] = {}
        self.outgoing: dict[int, OutgoingWebhook] = {}
        self.apps: dict[str, App] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, tuple[App, int, float]] = {}

    def issue(self, app: App, user_id: int, ttl: float) -> tuple[AccessToken, RefreshToken]:
        now = time.time()
        access = AccessToken(new_token(), app, user_id, now + ttl)
        refresh = RefreshToken(new_token(), app, user_id, now + REFRESH_TTL)
        self.access[access.token] = access
        self.refresh[refresh.token] = refresh
        return access, refresh

    def expire_all(self) -> None:
        past = time.time() - 1
        for token in self.access.values():
            token.expires_at = past

    def by_token(self, token: str) -> AccessToken:
        found = self.access.get(token)
        if found is None:
            raise errors.system(errors.INVALID_TOKEN)
        if found.expires_at <= time.time():
            raise errors.system(errors.EXPIRED_TOKEN)
        return found

    def webhook_auth(self, user: str, code: str) -> Auth:
        hook = self.webhooks.get(code)
        if hook is None or str(hook.user_id) != user:
            raise errors.system(errors.INVALID_CREDENTIALS)
        return Auth("webhook", hook.user_id, hook.scopes, webhook=hook)

    def token_auth(self, token: str) -> Auth:
        found = self.by_token(token)
        return Auth("oauth", found.user_id, found.app.scopes, app=found.app, token=token)


def token_payload(portal: Portal, access: AccessToken, refresh: RefreshToken) -> dict[str, Any]:
    """The §1.2.3 JSON of the token endpoint (``domain`` is the *auth server*, not the portal)."""
    return {
        "access_token": access.token,
        "client_endpoint": portal.client_endpoint,
        "domain": portal.oauth_server_domain,
        "expires": int(access.expires_at),
        "expires_in": int(portal.access_token_ttl),
        "member_id": portal.member_id,
        "refresh_token": refresh.token,
        "scope": access.app.scope_text,
        "server_endpoint": portal.server_endpoint,
        "status": access.app.status,
        "user_id": access.user_id,
    }


def oauth_token(portal: Portal, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``/oauth/token/``: ``grant_type`` = ``refresh_token`` | ``authorization_code``."""
    registry = portal.auth
    grant = str(params.get("grant_type", ""))
    client_id = str(params.get("client_id", ""))
    app = registry.apps.get(client_id)
    if grant not in ("refresh_token", "authorization_code"):
        return 400, {"error": "invalid_request", "error_description": "Invalid grant_type"}
    if app is None or app.client_secret != str(params.get("client_secret", "")):
        return 401, {"error": "invalid_client", "error_description": "Invalid client"}
    if grant == "refresh_token":
        old = registry.refresh.get(str(params.get("refresh_token", "")))
        if old is None or not old.valid or old.app is not app or old.expires_at <= time.time():
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
        old.valid = False
        user_id = old.user_id
    else:
        entry = registry.codes.pop(str(params.get("code", "")), None)
        if entry is None or entry[0] is not app or entry[2] <= time.time():
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid authorization code",
            }
        user_id = entry[1]
    access, refresh = registry.issue(app, user_id, portal.access_token_ttl)
    return 200, token_payload(portal, access, refresh)


def authenticate(
    portal: Portal, webhook: tuple[str, str] | None, params: dict[str, Any], bearer: str | None
) -> Auth:
    """Resolve the caller of a REST request (§1.1, §1.2); raises the §2.4.1 auth errors."""
    registry = portal.auth
    if webhook is not None:
        return registry.webhook_auth(*webhook)
    token = params.get("auth") or params.get("access_token") or bearer
    if not token or not isinstance(token, str):
        raise ApiError(*errors.NO_AUTH_FOUND[:2], status=errors.NO_AUTH_FOUND[2])
    return registry.token_auth(token)
