"""Proving an app installation before believing it (reference §1.2.3, §1.2.5, §1.3).

An ``ONAPPINSTALL`` request is only a claim: anyone who can reach ``/b24/install`` can post one
naming any ``member_id`` and any ``client_endpoint``. Nothing it names is ever called. The proof
is Bitrix24's own OAuth server — at the configured ``b24_token_url``, never a URL from the
request — refreshing the request's refresh token with this Kopilka's ``client_secret``: only a
token Bitrix24 issued to *our* application is accepted, and the answer tells which portal
(``member_id``) it belongs to and where that portal's REST endpoint is. Those answered values,
and the fresh tokens, are what gets stored; the request's own tokens are spent by the refresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from kopilka.config import Settings
from kopilka.domain.errors import KopilkaError

_TOKEN = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class InstallRefused(KopilkaError):
    """The install was not proven or would replace another connection (HTTP ``status``)."""

    code = "install_refused"

    def __init__(self, message: str, *, status: int = 401, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        if code:
            self.code = code


@dataclass(frozen=True, slots=True)
class Installation:
    """What Bitrix24's OAuth server vouched for (plus the claimed application token)."""

    member_id: str
    domain: str
    client_endpoint: str
    client_id: str
    application_token: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int


def app_credentials(settings: Settings) -> tuple[str, str] | None:
    """This Kopilka's application id and secret, or None when app mode is off."""
    secret = settings.b24_client_secret.get_secret_value() if settings.b24_client_secret else ""
    if not settings.b24_client_id or not secret:
        return None
    return settings.b24_client_id, secret


def _claim(auth: dict[str, str]) -> tuple[str, str, str]:
    member_id = auth.get("member_id", "")
    refresh, app_token = auth.get("refresh_token", ""), auth.get("application_token", "")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", member_id):
        raise InstallRefused("the install names no valid member_id", status=400, code="bad_request")
    if not _TOKEN.match(refresh) or not _TOKEN.match(app_token):
        raise InstallRefused(
            "the install lacks a refresh token or an application token",
            status=400,
            code="bad_request",
        )
    return member_id, refresh, app_token


async def _exchange(
    http: httpx.AsyncClient, settings: Settings, client: tuple[str, str], refresh: str
) -> dict[str, Any]:
    params = {
        "grant_type": "refresh_token",
        "client_id": client[0],
        "client_secret": client[1],
        "refresh_token": refresh,
    }
    try:
        answer = await http.get(settings.b24_token_url, params=params, timeout=settings.b24_timeout)
        body = answer.json()
    except (httpx.HTTPError, ValueError):
        raise InstallRefused(
            "Bitrix24's OAuth server could not be asked", status=503, code="oauth_unavailable"
        ) from None
    if answer.status_code >= 500:
        raise InstallRefused(
            "Bitrix24's OAuth server is unavailable", status=503, code="oauth_unavailable"
        )
    if answer.status_code != 200 or not isinstance(body, dict) or "error" in body:
        raise InstallRefused("Bitrix24's OAuth server did not accept the install's token")
    return body


async def prove_installation(
    http: httpx.AsyncClient, settings: Settings, auth: dict[str, str]
) -> Installation:
    client = app_credentials(settings)
    if client is None:
        raise InstallRefused(
            "this Kopilka is not set up as a Bitrix24 application "
            "(KOPILKA_B24_CLIENT_ID and KOPILKA_B24_CLIENT_SECRET)",
            status=403,
            code="app_mode_off",
        )
    member_id, refresh, app_token = _claim(auth)
    body = await _exchange(http, settings, client, refresh)
    try:
        proven = str(body["member_id"])
        endpoint = str(body["client_endpoint"])
        installation = Installation(
            member_id=proven,
            domain=urlsplit(endpoint).netloc,
            client_endpoint=endpoint if endpoint.endswith("/") else endpoint + "/",
            client_id=client[0],
            application_token=app_token,
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            expires_in=int(body.get("expires_in") or 3600),
        )
    except (KeyError, TypeError, ValueError):
        raise InstallRefused(
            "Bitrix24's OAuth server gave an unexpected answer", status=503, code="oauth_unexpected"
        ) from None
    if urlsplit(endpoint).scheme not in ("http", "https") or not installation.domain:
        raise InstallRefused("Bitrix24's OAuth server gave no portal endpoint", status=503)
    if proven != member_id:
        raise InstallRefused("the install's token belongs to another portal")
    return installation


async def installing_admin(
    http: httpx.AsyncClient, inst: Installation, timeout: float
) -> dict[str, Any]:
    """``profile`` of the user whose token was proven, asked at the proven endpoint; refused
    unless that user is the portal's administrator."""
    try:
        answer = await http.post(
            inst.client_endpoint + "profile", data={"auth": inst.access_token}, timeout=timeout
        )
        body = answer.json()
    except (httpx.HTTPError, ValueError):
        raise InstallRefused("the portal could not be asked who installs", status=503) from None
    profile = body.get("result") if isinstance(body, dict) else None
    if answer.status_code != 200 or not isinstance(profile, dict):
        raise InstallRefused("the portal did not say who installs", status=503)
    if str(profile.get("ADMIN", "")).upper() not in ("TRUE", "Y", "1"):
        raise InstallRefused("only a portal administrator installs the application", status=403)
    return profile
