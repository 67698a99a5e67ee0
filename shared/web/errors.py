"""One set of handlers renders every error alike: domain, validation, HTTP and unexpected.

Every error body is an RFC 9457 problem (`shared.web.problems`): `type`, `title`, `status`,
`detail`, `instance`, with `code`, `message`, `request_id` and `errors` (validation errors
only) as extension members. The domain errors themselves are in `shared.core.errors`.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.core.context import current_request_id
from shared.core.errors import AppError, InvalidFieldError, InvalidJSONError
from shared.web.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem, problem_title, problem_type

logger = structlog.get_logger(__name__)


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Render an error as problem details (`application/problem+json`)."""
    body = Problem(
        type=problem_type(code),
        title=problem_title(code, status_code),
        status=status_code,
        detail=message,
        instance=instance,
        code=code,
        message=message,
        request_id=current_request_id(),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status_code,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def field_errors(raw: Sequence[Any]) -> list[FieldError]:
    """Turn pydantic's error list into named fields."""
    result = []
    for error in raw:
        loc = [str(part) for part in error.get("loc", ())]
        location = (
            loc[0] if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else "body"
        )
        field_parts = loc[1:] if loc and loc[0] == location else loc
        result.append(
            FieldError(
                field=".".join(field_parts) or location,
                location=location,
                message=str(error.get("msg", "Invalid value")),
                type=str(error.get("type", "value_error")),
            )
        )
    return result


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    errors = None
    if isinstance(exc, InvalidFieldError):
        errors = [
            FieldError(
                field=exc.field,
                location=exc.location,
                message=exc.field_message,
                type="value_error",
            )
        ]
    return error_response(
        exc.status_code,
        exc.code,
        exc.message,
        instance=request.url.path,
        errors=errors,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in raw):
        return error_response(
            400, InvalidJSONError.code, InvalidJSONError.message, instance=request.url.path
        )
    errors = field_errors(raw)
    names = ", ".join(dict.fromkeys(error.field for error in errors))
    return error_response(
        422,
        "validation_error",
        f"Invalid input: {names}.",
        instance=request.url.path,
        errors=errors,
    )


# Codes that differ from the status phrase of this Python's `http.HTTPStatus`.
_CODES = {413: "content_too_large", 422: "validation_error"}


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette's 405 names only one route's)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = _CODES.get(status, status.phrase.lower().replace(" ", "_").replace("-", "_"))
    message = exc.detail if isinstance(exc.detail, str) else status.description
    headers = dict(exc.headers or {})
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return error_response(
        exc.status_code, code, message, instance=request.url.path, headers=headers
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled_error", path=request.url.path)
    # This handler runs outside the request-ID middleware, so it sets the header itself.
    request_id = current_request_id()
    return error_response(
        500,
        "internal_error",
        "An unexpected error occurred.",
        instance=request.url.path,
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render domain, validation, HTTP and unexpected errors as problem details."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
