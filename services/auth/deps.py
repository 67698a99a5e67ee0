"""Dependencies of the auth routes, as `Annotated` aliases."""

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import SecretStr, ValidationError

from services.auth.schemas import LoginRequest
from services.auth.service import Credentials
from shared.core.errors import InvalidJSONError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
GATEWAY_SECRET_HEADER = "x-gateway-secret"


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
    """The caller's address, as the failed-login and registration counts key it.

    With `GATEWAY_SECRET` set, the address the gateway names in X-Forwarded-For, but only on a
    request that carries the gateway's secret (`X-Gateway-Secret`): any other caller is its
    peer address, whatever its pod's address. Without it (local runs), the peer address as
    uvicorn gives it (X-Forwarded-For believed from FORWARDED_ALLOW_IPS, 127.0.0.1 by default).
    """
    peer = request.client.host if request.client else "unknown"
    secret: SecretStr | None = request.app.state.gateway_secret
    if secret is None:
        return peer
    proof = request.headers.get(GATEWAY_SECRET_HEADER, "")
    if not hmac.compare_digest(proof.encode(), secret.get_secret_value().encode()):
        return peer
    # The gateway sends the client's address alone; anything else is not its header.
    named = request.headers.get("x-forwarded-for", "").strip()
    try:
        return str(ipaddress.ip_address(named))
    except ValueError:
        return peer


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]
LoginDep = Annotated[LoginRequest, Depends(read_login)]
ClientAddress = Annotated[str, Depends(client_address)]
