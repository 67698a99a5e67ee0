"""Dependencies of the auth routes, as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.auth.schemas import LoginRequest
from services.auth.service import Credentials
from shared.core.errors import InvalidJSONError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def get_credentials(request: Request) -> Credentials:
    credentials: Credentials = request.app.state.credentials
    return credentials


async def read_login(request: Request) -> LoginRequest:
    """Login credentials from a JSON body or from the OAuth2 password form."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES):
        form = await request.form()
        data: object = {key: form.get(key) for key in ("username", "password") if key in form}
    else:
        try:
            data = await request.json()
        except (ValueError, RecursionError) as exc:  # malformed, or nested beyond reason
            raise InvalidJSONError() from exc
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


async def client_address(request: Request) -> str:
    """The caller's address: the gateway's X-Forwarded-For when it comes from a trusted proxy
    (uvicorn's `--forwarded-allow-ips`, `FORWARDED_ALLOW_IPS`), else the peer's."""
    return request.client.host if request.client else "unknown"


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]
LoginDep = Annotated[LoginRequest, Depends(read_login)]
ClientAddress = Annotated[str, Depends(client_address)]
