"""An emulated portal's credentials: webhooks, applications and their tokens, employees —
the test-control side, mixed into ``Portal`` (docs/emulator.md, "Credentials and apps")."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, cast

import httpx

from b24emu.auth import CODE_TTL, App, OutgoingWebhook, Webhook, new_token, token_payload
from b24emu.params import flatten_form

if TYPE_CHECKING:
    from b24emu.portal import Portal

log = logging.getLogger("b24emu")
DEFAULT_SCOPES = ("crm", "im", "lists", "user", "bizproc")


class Credentials:
    """Webhooks, apps, tokens and users of the portal this is mixed into."""

    def add_webhook(
        self, user_id: int = 1, scopes: tuple[str, ...] = DEFAULT_SCOPES, code: str | None = None
    ) -> str:
        """An incoming webhook; returns its base URL (path-only ``/rest/1/<code>/`` if unserved)."""
        p = cast("Portal", self)
        code = code or new_token(8)
        p.auth.webhooks[code] = Webhook(user_id, code, frozenset(scopes))
        return f"{p.base_url or ''}/rest/{user_id}/{code}/"

    def add_outgoing_webhook(self, handler_url: str, events: tuple[str, ...]) -> str:
        """An outgoing webhook (§6.6); returns the application token its events carry."""
        p = cast("Portal", self)
        hook_id = p.next_id("event_handler")
        token = new_token(16)
        p.auth.outgoing[hook_id] = OutgoingWebhook(
            hook_id, handler_url, frozenset(e.upper() for e in events), token
        )
        return token

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        app_url: str | None = None,
        install_url: str | None = None,
    ) -> App:
        """An app as an admin creates a local one: ``app_url`` is "Your handler path" (the app
        page), ``install_url`` the "Initial installation path" (with ``app_url``: the installer
        frame; without: the ONAPPINSTALL handler of ``install_app``)."""
        p = cast("Portal", self)
        app = App(
            client_id,
            client_secret,
            frozenset(scopes),
            app_id=p.next_id("app"),
            app_url=app_url,
            install_url=install_url,
        )
        p.auth.apps[client_id] = app
        return app

    def add_user(self, name: str, last_name: str = "", admin: bool = False) -> int:
        """A new active employee (``profile`` reports ``ADMIN``); returns the user id."""
        from b24emu.seed import add_user

        return add_user(cast("Portal", self), name, last_name, admin)

    def issue_tokens(self, client_id: str, user_id: int = 1) -> dict[str, Any]:
        """Fresh tokens for an app, in the §1.2.3 token-response shape."""
        p = cast("Portal", self)
        access, refresh = p.auth.issue(p.auth.apps[client_id], user_id, p.access_token_ttl)
        return token_payload(p, access, refresh)

    def issue_auth_code(self, client_id: str, user_id: int = 1) -> str:
        """An authorization ``code`` (valid 30 s) for ``grant_type=authorization_code``."""
        p = cast("Portal", self)
        code = new_token(16)
        p.auth.codes[code] = (p.auth.apps[client_id], user_id, time.time() + CODE_TTL)
        return code

    def install_app(
        self, client_id: str, install_url: str | None = None, user_id: int = 1
    ) -> dict[str, str]:
        """Mark the app installed and POST ``ONAPPINSTALL`` (§1.2.5) to ``install_url``.

        Returns the form fields as posted: flat PHP-bracket keys such as ``auth[access_token]``.
        A failed POST is logged and lost (the app stays installed), as on the real portal.
        """
        p = cast("Portal", self)
        app = p.auth.apps[client_id]
        with p.lock:
            app.installed = True
            access, refresh = p.auth.issue(app, user_id, p.access_token_ttl)
        payload: dict[str, Any] = {
            "event": "ONAPPINSTALL",
            "data": {
                "VERSION": str(app.version),
                "ACTIVE": "Y",
                "INSTALLED": "Y",
                "LANGUAGE_ID": p.lang,
            },
            "ts": str(int(time.time())),
            "auth": {
                "access_token": access.token,
                "expires": str(int(access.expires_at)),
                "expires_in": str(int(p.access_token_ttl)),
                "scope": app.scope_text,
                "domain": p.domain,
                "server_endpoint": p.server_endpoint,
                "status": app.status,
                "client_endpoint": p.client_endpoint,
                "member_id": p.member_id,
                "user_id": str(user_id),
                "refresh_token": refresh.token,
                "application_token": app.application_token,
            },
        }
        form = dict(flatten_form(payload))
        if install_url:
            try:
                with httpx.Client(timeout=10.0, trust_env=False) as client:
                    client.post(install_url, data=form)
            except httpx.HTTPError as exc:
                log.warning("ONAPPINSTALL to %s failed: %s", install_url, exc)
        return form

    def uninstall_app(self, client_id: str, clean: bool = False) -> None:
        """Remove the app: ``ONAPPUNINSTALL`` (no tokens) to its handlers, bindings,
        placements, robots and activities dropped."""
        p = cast("Portal", self)
        app = p.auth.apps[client_id]
        with p.lock:
            for binding in list(p.events.bindings.values()):
                if binding.app is app and binding.event == "ONAPPUNINSTALL":
                    p.events.send_now(binding, {"LANGUAGE_ID": p.lang, "CLEAN": 1 if clean else 0})
            p.events.bindings = {k: b for k, b in p.events.bindings.items() if b.app is not app}
            p.events.offline.drop_app(client_id)
            app.installed = False
            p.placements[:] = [p for p in p.placements if p["app"] != client_id]
            for table in (p.robots, p.bp_activities):  # its automation goes with it
                for key in [k for k in table if k.startswith(f"{client_id}:")]:
                    del table[key]
            for token in [t for t, a in p.auth.access.items() if a.app is app]:
                del p.auth.access[token]
            for refresh in p.auth.refresh.values():
                if refresh.app is app:
                    refresh.valid = False

    def expire_access_tokens(self) -> None:
        p = cast("Portal", self)
        p.auth.expire_all()
