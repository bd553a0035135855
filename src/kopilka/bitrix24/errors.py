"""Errors of the Bitrix24 REST client, one tree with a stable machine code per class.

    KopilkaError
    └── B24Error                    anything the portal (or the road to it) refused
        ├── B24TransportError       no HTTP answer; ``may_have_run`` says if the portal may have
        │                           executed the call (read timeout) or surely not (connect error)
        ├── B24AuthError            the call was not authorised
        │   ├── B24TokenExpired         401 ``expired_token``: refresh once, then retry
        │   ├── B24InvalidCredentials   bad webhook code or token, dead refresh token
        │   ├── B24WrongAuthType        403 ``WRONG_AUTH_TYPE``: method needs an app, not a webhook
        │   └── B24InsufficientScope    ``insufficient_scope``: the webhook/app lacks the scope
        ├── B24RateLimited          503 ``QUERY_LIMIT_EXCEEDED``: the portal's bucket is full
        ├── B24OperationLimit       429 ``OPERATION_TIME_LIMIT``; ``reset_at`` (Unix time) if known
        ├── B24ServerError          500/502/504, ``INTERNAL_SERVER_ERROR``
        ├── B24NotFound             ``ERROR_NOT_FOUND``, ``NOT_FOUND``, legacy ``""`` + "Not found"
        ├── B24MethodNotFound       404 ``ERROR_METHOD_NOT_FOUND``
        ├── B24AccessDenied         ``ACCESS_DENIED``, legacy ``""`` + "Access denied."
        ├── B24BadRequest           any other refusal (400 and unknown codes)
        └── B24BatchError           some sub-commands of a ``batch`` failed; carries the errors by
                                    key *and* the results of the commands that succeeded

Every error keeps the portal's own words: ``b24_error`` (the envelope's ``error`` string, possibly
``""``), ``description`` (``error_description``), ``status`` (HTTP, ``None`` inside a batch) and
``method``. The portal's codes are matched first and the HTTP status only as a fallback, because
the same refusal travels with different statuses (reference §2.4.1).

Messages never carry secrets: :func:`redact` scrubs webhook codes, tokens and client secrets from
every message built here, and the client passes the secrets it knows for exact removal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kopilka.domain.errors import KopilkaError

_MASK = "***"
_PATTERNS = (
    # incoming webhook base: /rest/{user_id}/{code}/
    (re.compile(r"(/rest/\d+/)[^/\s?#\"']+"), r"\1" + _MASK),
    # query/form parameters
    (
        re.compile(
            r"((?:^|[?&\s\"'])(?:auth|access_token|refresh_token|client_secret|code|ap|AUTH_ID|"
            r"REFRESH_ID)=)[^&\s\"']+"
        ),
        r"\1" + _MASK,
    ),
    # JSON keys
    (
        re.compile(
            r"(\"(?:auth|access_token|refresh_token|client_secret|AUTH_ID|REFRESH_ID)\"\s*:\s*\")[^\"]*"
        ),
        r"\1" + _MASK,
    ),
    # Authorization: Bearer <token>
    (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), r"\1" + _MASK),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known ``secrets`` and anything shaped like a credential replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactHttpxLog(logging.Filter):
    """httpx logs every request URL at INFO; a webhook URL carries its secret code."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Redact the ``httpx`` logger's request lines (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxLog) for f in logger.filters):
        logger.addFilter(_RedactHttpxLog())


class B24Error(KopilkaError):
    code = "b24_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        b24_error: str = "",
        description: str = "",
        status: int | None = None,
        method: str = "",
        secrets: Iterable[str] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.b24_error = redact(b24_error, secrets)
        self.description = redact(description, secrets)
        self.status = status
        self.method = method
        if message is None:
            where = f"{method}: " if method else ""
            what = self.b24_error or "(no error code)"
            text = f": {self.description}" if self.description else ""
            http = f" (HTTP {status})" if status is not None else ""
            message = f"{where}{what}{text}{http}"
        super().__init__(redact(message, secrets))


class B24TransportError(B24Error):
    code = "b24_transport"

    def __init__(self, message: str, *, may_have_run: bool, method: str = "", **kw: Any) -> None:
        super().__init__(message, method=method, **kw)
        self.may_have_run = may_have_run


class B24AuthError(B24Error):
    code = "b24_auth"


class B24TokenExpired(B24AuthError):
    code = "b24_token_expired"


class B24InvalidCredentials(B24AuthError):
    code = "b24_invalid_credentials"


class B24WrongAuthType(B24AuthError):
    code = "b24_wrong_auth_type"


class B24InsufficientScope(B24AuthError):
    code = "b24_insufficient_scope"


class B24RateLimited(B24Error):
    code = "b24_rate_limited"


class B24OperationLimit(B24Error):
    code = "b24_operation_limit"

    def __init__(self, message: str | None = None, *, reset_at: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.reset_at = reset_at


class B24ServerError(B24Error):
    code = "b24_server_error"


class B24NotFound(B24Error):
    code = "b24_not_found"


class B24MethodNotFound(B24Error):
    code = "b24_method_not_found"


class B24AccessDenied(B24Error):
    code = "b24_access_denied"


class B24BadRequest(B24Error):
    code = "b24_bad_request"


class B24BatchError(B24Error):
    """Some commands of a batch failed. Nothing is dropped: ``results`` holds what succeeded,
    ``errors`` what failed, ``not_run`` the keys that never executed (``halt``, or a later chunk
    of :meth:`Bitrix24Client.batch_many` after a whole request failed)."""

    code = "b24_batch"

    def __init__(
        self,
        errors: Mapping[str, B24Error],
        results: Mapping[str, Any],
        *,
        not_run: Iterable[str] = (),
        method: str = "batch",
    ) -> None:
        self.errors = dict(errors)
        self.results = dict(results)
        self.not_run = tuple(not_run)
        first = ", ".join(f"{k}: {e.b24_error or e.code}" for k, e in list(self.errors.items())[:3])
        more = " …" if len(self.errors) > 3 else ""
        super().__init__(
            f"{method}: {len(self.errors)} of "
            f"{len(self.errors) + len(self.results) + len(self.not_run)} commands failed "
            f"({first}{more})",
            method=method,
        )


_BY_CODE: dict[str, type[B24Error]] = {
    "expired_token": B24TokenExpired,
    "NO_AUTH_FOUND": B24InvalidCredentials,
    "INVALID_CREDENTIALS": B24InvalidCredentials,
    "invalid_token": B24InvalidCredentials,
    "authorization_error": B24InvalidCredentials,
    "APPLICATION_NOT_FOUND": B24InvalidCredentials,
    "invalid_grant": B24InvalidCredentials,  # token endpoint: dead refresh token
    "invalid_client": B24InvalidCredentials,  # token endpoint: bad client id/secret
    "WRONG_AUTH_TYPE": B24WrongAuthType,
    "insufficient_scope": B24InsufficientScope,
    "invalid_scope": B24InsufficientScope,
    "QUERY_LIMIT_EXCEEDED": B24RateLimited,
    "OPERATION_TIME_LIMIT": B24OperationLimit,
    "INTERNAL_SERVER_ERROR": B24ServerError,
    "ERROR_UNEXPECTED_ANSWER": B24ServerError,
    "ERROR_NOT_FOUND": B24NotFound,
    "NOT_FOUND": B24NotFound,
    "OWNER_NOT_FOUND": B24NotFound,
    "ERROR_METHOD_NOT_FOUND": B24MethodNotFound,
    "ACCESS_DENIED": B24AccessDenied,
    "user_access_error": B24AccessDenied,
    "allowed_only_intranet_user": B24AccessDenied,
    "OVERLOAD_LIMIT": B24AccessDenied,  # a manual block by support: retrying does not help
    "PAYMENT_REQUIRED": B24AccessDenied,
}


def _classify(status: int | None, code: str, description: str) -> type[B24Error]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code == "":  # legacy crm.* methods: the description is the only signal
        lowered = description.lower()
        if "not found" in lowered:
            return B24NotFound
        if "access denied" in lowered:
            return B24AccessDenied
    if status is None:
        return B24BadRequest
    if status in (500, 502, 503, 504):
        return B24ServerError
    if status == 401:
        return B24InvalidCredentials
    if status == 403:
        return B24AccessDenied
    if 400 <= status < 500:
        return B24BadRequest
    return B24Error


def from_envelope(
    status: int | None, body: Any, method: str, *, secrets: Iterable[str] = ()
) -> B24Error:
    """The typed error for an error envelope ``{"error": ..., "error_description": ...}``.

    ``body`` may be anything the server sent (a proxy's HTML page decodes to ``None``);
    ``status`` is ``None`` for the sub-commands of a batch.
    """
    code, description, reset_at = "", "", None
    if isinstance(body, Mapping):
        raw = body.get("error", "")
        code = "" if raw is None else str(raw)  # may be numeric (catalog.*)
        description = str(body.get("error_description") or "")
        timing = body.get("time")
        if isinstance(timing, Mapping) and timing.get("operating_reset_at") is not None:
            reset_at = float(timing["operating_reset_at"])
    cls = _classify(status, code, description)
    kw: dict[str, Any] = {
        "b24_error": code,
        "description": description,
        "status": status,
        "method": method,
        "secrets": secrets,
    }
    if cls is B24OperationLimit:
        return B24OperationLimit(reset_at=reset_at, **kw)
    return cls(**kw)


__all__ = [
    "B24AccessDenied",
    "B24AuthError",
    "B24BadRequest",
    "B24BatchError",
    "B24Error",
    "B24InsufficientScope",
    "B24InvalidCredentials",
    "B24MethodNotFound",
    "B24NotFound",
    "B24OperationLimit",
    "B24RateLimited",
    "B24ServerError",
    "B24TokenExpired",
    "B24TransportError",
    "B24WrongAuthType",
    "from_envelope",
    "install_log_redaction",
    "redact",
]
