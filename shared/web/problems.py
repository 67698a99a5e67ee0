"""Problem details (RFC 9457): the one error body of every service and of the gateway.

Every error is `application/problem+json`::

    {"type": "tag:efficient-system,2026:problems/validation_error", "title": "Invalid input",
     "status": 422, "detail": "Invalid input: username.", "instance": "/api/auth/register",
     "code": "validation_error", "message": "Invalid input: username.", "request_id": "4ef4…",
     "errors": [{"field": "username", "location": "body", "message": "...", "type": "..."}]}

`type` names the kind of problem, one per `code` (`PROBLEM_TYPES`, documented in
`docs/problems.md`); `title` is that kind's fixed summary, `detail` this occurrence's
explanation. `code`, `message` (the same text as `detail`), `request_id` and `errors` are
extension members, so clients of the older JSON error shape keep working. A code missing from
`PROBLEM_TYPES` gets `type: "about:blank"` and the status phrase as its title, as RFC 9457 says.
"""

from http import HTTPStatus

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Not a web address: a tag URI (RFC 4151) names a problem type without promising a page there.
TYPE_PREFIX = "tag:efficient-system,2026:problems/"

# code -> title: the contract of machine-readable error codes (services and gateway alike).
PROBLEM_TYPES: dict[str, str] = {
    "bad_request": "Malformed request",
    "invalid_json": "The body is not valid JSON",
    "not_authenticated": "Not signed in",
    "invalid_token": "The access token is not valid",
    "token_expired": "The access token has expired",
    "invalid_credentials": "Wrong username or password",
    "invalid_refresh_token": "The refresh token is not valid",
    "refresh_token_expired": "The refresh token has expired",
    "forbidden": "Not allowed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "conflict": "Conflict",
    "precondition_failed": "Precondition failed",
    "content_too_large": "Request body too large",
    "uri_too_long": "URL too long",
    "validation_error": "Invalid input",
    "too_many_attempts": "Too many attempts",
    "rate_limited": "Rate limited",
    "headers_too_large": "Request headers too large",
    "internal_error": "Internal error",
    "bad_gateway": "Service not answering",
    "service_unavailable": "Service unavailable",
    "gateway_timeout": "Service too slow",
}


def problem_type(code: str) -> str:
    """The `type` URI of an error code (`about:blank` for an unregistered one)."""
    return TYPE_PREFIX + code if code in PROBLEM_TYPES else "about:blank"


def problem_title(code: str, status: int) -> str:
    """The fixed title of an error code's problem type."""
    return PROBLEM_TYPES.get(code) or HTTPStatus(status).phrase


class FieldError(BaseModel):
    """One invalid input: where it is, and what is wrong with it."""

    field: str = Field(examples=["username"])
    location: str = Field(examples=["body"])
    message: str = Field(examples=["String should have at least 3 characters"])
    type: str = Field(examples=["string_too_short"])


class Problem(BaseModel):
    """An error, as RFC 9457 problem details with this API's extension members."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": TYPE_PREFIX + "not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "The task was not found.",
                    "instance": "/api/tasks/42",
                    "code": "not_found",
                    "message": "The task was not found.",
                    "request_id": "4ef4c1d2a0b94c54a1e0f1b2c3d4e5f6",
                }
            ]
        }
    )

    type: str = Field(description="The kind of problem: one URI per `code` (docs/problems.md).")
    title: str = Field(description="The kind's fixed, human-readable summary.")
    status: int = Field(ge=100, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this request.")
    instance: str | None = Field(None, description="The path that was requested.")
    code: str = Field(description="Machine-readable error code (extension).")
    message: str = Field(description="Same text as `detail`, for clients of the older shape.")
    request_id: str | None = Field(None, description="The request's `X-Request-ID`.")
    errors: list[FieldError] | None = Field(
        None, description="On validation errors: each invalid input."
    )
