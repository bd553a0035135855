"""Error envelopes as the portal sends them (§2.4)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A REST error: ``{"error": code, "error_description": text}`` with an HTTP status.

    ``code`` may be an empty string (legacy ``crm.*``) or a number (``catalog.*``), as on the
    real portal. ``extra`` keys are merged into the envelope (e.g. ``"argument"``).
    """

    def __init__(
        self,
        code: str | int,
        description: str,
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra or {}

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "error_description": self.description}
        body.update(self.extra)
        return body


def legacy(description: str) -> ApiError:
    """Legacy ``crm.*`` error: empty code, HTTP 400 (e.g. ``Not found``)."""
    return ApiError("", description, 400)


def core(description: str) -> ApiError:
    return ApiError("ERROR_CORE", description, 400)


METHOD_NOT_FOUND = ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
NO_AUTH_FOUND = ("NO_AUTH_FOUND", "Wrong authorization data", 401)
INVALID_TOKEN = ("invalid_token", "The access token provided is invalid", 401)
EXPIRED_TOKEN = ("expired_token", "The access token provided has expired", 401)
INVALID_CREDENTIALS = ("INVALID_CREDENTIALS", "Invalid request credentials", 403)
WRONG_AUTH_TYPE = ("WRONG_AUTH_TYPE", "Current authorization type is denied for this method", 403)
QUERY_LIMIT = ("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
OPERATION_TIME_LIMIT = (
    "OPERATION_TIME_LIMIT",
    "Method is blocked due to operation time limit.",
    429,
)
INTERNAL = ("INTERNAL_SERVER_ERROR", "Internal server error", 500)


def system(spec: tuple[str, str, int]) -> ApiError:
    code, text, status = spec
    return ApiError(code, text, status)
