"""The auth service's app: `uvicorn services.auth.main:create_app --factory`."""

from datetime import timedelta

from fastapi import FastAPI

from services.auth.config import AuthSettings
from services.auth.keys import load_keys
from services.auth.passwords import Passwords
from services.auth.router import router
from services.auth.service import Credentials
from services.auth.throttle import Throttle
from services.auth.tokens import TokenIssuer
from shared.core.logging import configure_logging
from shared.web.app import create_service_app
from shared.web.security import StaticKeySource, TokenVerifier


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    """Build the auth app from settings (the environment by default)."""
    settings = settings or AuthSettings()
    # Configured before the key is loaded, so a "generated key" warning is a JSON line too.
    configure_logging(service="auth", level=settings.log_level, json=settings.log_json)
    keys = load_keys(settings)
    signing_key = keys.signing
    passwords = Passwords.from_settings(settings)
    app = create_service_app(
        service="auth",
        title="Efficient System: auth",
        settings=settings,
        token_verifier=TokenVerifier(
            keys=StaticKeySource(keys.jwks()),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
        ),
        routers=[router],
        on_shutdown=[passwords.close],
    )
    app.state.signing_key = signing_key
    app.state.gateway_secret = settings.gateway_secret
    app.state.keys = keys
    app.state.credentials = Credentials(
        passwords=passwords,
        issuer=TokenIssuer(
            signing_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl=timedelta(minutes=settings.access_token_expire_minutes),
        ),
        refresh_ttl=timedelta(days=settings.refresh_token_expire_days),
        throttle=Throttle.from_settings(settings),
    )
    return app
