"""App frames: what the portal POSTs into an app's iframe (§1.2.4, §12.2) and the sessions
(``APP_SID``) its BX24 library talks to the portal page under."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from b24emu.auth import App, new_token

if TYPE_CHECKING:
    from b24emu.portal import Portal


@dataclass
class Frame:
    """One opened frame: which app, for whom, where; ``install`` for the installer frame."""

    sid: str
    client_id: str
    user_id: int
    placement: str
    options: dict[str, Any]
    install: bool
    finished: bool = False


@dataclass
class FramePost:
    """What the portal page posts: the handler URL with its query, the form body, and the
    data the BX24 library asks the page for (``getInitData``)."""

    action: str
    form: dict[str, str]
    init: dict[str, Any]
    sid: str


@dataclass
class Frames:
    opened: dict[str, Frame] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, sid: str) -> Frame | None:
        with self.lock:
            return self.opened.get(sid)


def is_admin(portal: Portal, user_id: int) -> bool:
    return bool(portal.users.get(user_id, {}).get("ADMIN"))


def placement_title(portal: Portal, placement: dict[str, Any], app: App) -> str:
    """The tab's title in the portal language: ``LANG_ALL[lang][TITLE]``, else ``TITLE``."""
    lang_all = placement.get("langAll")
    if isinstance(lang_all, dict):
        entry = lang_all.get(portal.lang)
        if isinstance(entry, dict):
            title = next((v for k, v in entry.items() if k.upper() == "TITLE" and v), None)
            if title:
                return str(title)
    return str(placement.get("title") or app.client_id)


def open_frame(
    portal: Portal,
    app: App,
    user_id: int,
    handler: str,
    placement: str,
    options: dict[str, Any] | None = None,
    install: bool = False,
) -> FramePost:
    """Issue the acting user's tokens and build the POST Bitrix24 sends into the frame."""
    with portal.lock:
        access, refresh = portal.auth.issue(app, user_id, portal.access_token_ttl)
    sid = new_token(16)
    opts = dict(options or {})
    frame = Frame(sid, app.client_id, user_id, placement, opts, install)
    with portal.frames.lock:
        portal.frames.opened[sid] = frame
    base = urlsplit(portal.base_url or "https://" + portal.domain)
    query = {
        "DOMAIN": portal.domain,
        "PROTOCOL": "1" if base.scheme == "https" else "0",
        "LANG": portal.lang,
        "APP_SID": sid,
    }
    form = {
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": str(int(portal.access_token_ttl)),
        "REFRESH_ID": refresh.token,
        "SERVER_ENDPOINT": portal.server_endpoint,
        "APPLICATION_TOKEN": app.application_token,
        "APPLICATION_SCOPE": app.scope_text,
        "member_id": portal.member_id,
        "status": app.status,
    }
    with_placement = placement != "DEFAULT" or portal.default_placement_fields
    if with_placement:
        form["PLACEMENT"] = placement
        form["PLACEMENT_OPTIONS"] = json.dumps(opts, ensure_ascii=False, separators=(",", ":"))
    separator = "&" if urlsplit(handler).query else "?"
    init = {
        "DOMAIN": portal.domain,
        "PROTOCOL": int(query["PROTOCOL"]),
        "LANG": portal.lang,
        "APP_SID": sid,
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": int(portal.access_token_ttl),
        "REFRESH_ID": refresh.token,
        "MEMBER_ID": portal.member_id,
        "IS_ADMIN": is_admin(portal, user_id),
        "INSTALL": install,
        "FIRST_RUN": install,
        "PLACEMENT": placement if with_placement else "DEFAULT",
        "PLACEMENT_OPTIONS": opts,
    }
    return FramePost(handler + separator + urlencode(query), form, init, sid)


def finish_install(portal: Portal, sid: str) -> App | None:
    """``BX24.installFinish()`` in an installer frame: the app is installed from now on.

    Anywhere else (an app page, a tab, an unknown frame) the call has no effect (None)."""
    frame = portal.frames.get(sid)
    if frame is None or not frame.install:
        return None
    app = portal.auth.apps.get(frame.client_id)
    if app is None or not is_admin(portal, frame.user_id):
        return None
    with portal.lock:
        app.installed = True
        frame.finished = True
    return app


def refresh_frame(portal: Portal, sid: str) -> dict[str, Any] | None:
    """``BX24.refreshAuth()``: fresh tokens for the frame's user (None for an unknown frame)."""
    frame = portal.frames.get(sid)
    app = portal.auth.apps.get(frame.client_id) if frame is not None else None
    if frame is None or app is None:
        return None
    with portal.lock:
        access, refresh = portal.auth.issue(app, frame.user_id, portal.access_token_ttl)
    return {
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": int(portal.access_token_ttl),
        "REFRESH_ID": refresh.token,
    }
