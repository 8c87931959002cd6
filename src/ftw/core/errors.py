"""One problem+json (RFC 9457) shape for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class DomainError(Exception):
    """A business rule refused the request; carries its own HTTP status."""

    status = 400
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        keep_writes: bool = False,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        # True when the refusal itself must be recorded (e.g. revoking a replayed token).
        self.keep_writes = keep_writes
        self.retry_after_s = retry_after_s  # sent as Retry-After (a 503 that will pass)


class Unauthorized(DomainError):
    status = 401
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    title = "Payload too large"


class LengthRequired(DomainError):
    status = 411
    title = "Length required"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"


class TooManyRequests(DomainError):
    """Refused for now; ``retry_after_s`` says when to try again (sent as Retry-After)."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, keep_writes: bool = False) -> None:
        super().__init__(detail, keep_writes=keep_writes)
        self.retry_after_s = max(1, retry_after_s)


class Invalid(DomainError):
    """Valid JSON that breaks a rule checked beyond the schema."""

    status = 422
    title = "Validation failed"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    return ".".join(parts) or str(loc[-1])


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.retry_after_s is not None:
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem(
            exc.status, exc.title, exc.detail, instance=request.url.path, errors=errors, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Validation failed", detail, instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem(
            exc.status_code,
            title,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # Values the schema let through but PostgreSQL cannot store (out-of-range numbers,
        # bytes its encoding refuses): the transaction has rolled back, nothing was written.
        log.warning("data_error", path=request.url.path, error=str(exc.orig))
        return problem(
            422, "Validation failed", "A value is out of range or not valid text", instance=request.url.path
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "Internal server error", instance=request.url.path)
