"""Domain errors: each carries its HTTP status and code.

Services raise them from any layer; `shared.web.errors` renders every one alike, as an
RFC 9457 problem. Nothing here knows of HTTP frameworks.
"""

from collections.abc import Mapping


class AppError(Exception):
    """Base of every domain error; subclasses set the status and the code."""

    status_code: int = 400
    code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.headers = dict(headers or {})


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"
    message = "The resource was not found."


class ConflictError(AppError):
    status_code = 409
    code = "conflict"
    message = "The resource already exists."


class UnauthorizedError(AppError):
    status_code = 401
    code = "not_authenticated"
    message = "Authentication is required."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})
        if code:
            self.code = code


class ForbiddenError(AppError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class PreconditionFailedError(AppError):
    status_code = 412
    code = "precondition_failed"
    message = "The resource has changed since you read it."


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "A service this request depends on is unavailable."


class InvalidFieldError(AppError):
    """422 for a well-formed value that the service rejects (e.g. an unknown user id)."""

    status_code = 422
    code = "validation_error"

    def __init__(self, *, field: str, message: str, location: str = "body") -> None:
        super().__init__(f"Invalid input: {field}.")
        self.field = field
        self.location = location
        self.field_message = message


class InvalidJSONError(AppError):
    status_code = 400
    code = "invalid_json"
    message = "The request body is not valid JSON."
