"""One error shape for the whole public API (``/api/v1``).

Every 4xx and 5xx answer is ``{"error": {"code": ..., "message": ..., "details": [...]}}``:
``code`` is a stable snake_case identifier clients may switch on, ``message`` is for people
(English), and ``details`` lists field-level problems for 422 answers
(``{"field": "phone", "code": "invalid_phone", "message": ...}``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class FieldProblem(BaseModel):
    field: str
    code: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[FieldProblem] = []


class ErrorResponse(BaseModel):
    """The documented shape of every error answer (use in ``responses=`` for OpenAPI)."""

    error: ErrorBody


class ApiError(Exception):
    """Raise from an endpoint to answer with the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_details(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        problems.append(
            FieldProblem(
                field=_field_name(tuple(err.get("loc", ()))),
                code=str(err.get("type", "invalid")),
                message=str(err.get("msg", "invalid value")),
            )
        )
    return problems


def install_error_handlers(app: FastAPI) -> None:
    """Answer API errors, validation errors and framework HTTP errors in the one shape."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(
            422, "invalid_request", "the request is not valid", validation_details(exc)
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, message, headers=headers)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
