"""Auth service settings, read once from the environment."""

import re
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from shared.core.settings import RelaySettings

PLACEHOLDER_PASSWORDS = {"changeme", "change-me", "admin", "password", "secret"}
GATEWAY_SECRET_FORM = re.compile(r"[A-Za-z0-9_-]{32,128}")  # fits an nginx header as it is


class AuthSettings(RelaySettings):
    """Token lifetimes, the signing keys, password hashing cost, brute-force limits, the
    bootstrap admin; the pace of the relay of user events."""

    access_token_expire_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_expire_days: int = Field(default=14, ge=1, le=365)
    # `manage maintain` deletes refresh tokens expired this many days ago (a revoked one too:
    # until it expires, its row is what tells a reuse of a rotated token).
    refresh_token_retention_days: int = Field(default=7, ge=0, le=3650)
    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path | None = None
    # The key the current one replaced (its private or public PEM): the JWKS still publishes
    # it, so tokens it signed verify until they expire. A missing or empty file: none.
    jwt_previous_key_file: Path | None = None
    # The key staged to sign next (its private PEM): published in the JWKS, signing nothing
    # until it is promoted (docs/auth.md). A missing or empty file: none.
    jwt_next_key_file: Path | None = None
    jwt_generated_key_path: Path = Path(".local/auth-signing-key.pem")
    # OWASP's minimum for Argon2id is m=19 MiB, t=2, p=1: never weaker.
    password_hash_memory_kib: int = Field(default=19 * 1024, ge=19 * 1024)
    password_hash_time_cost: int = Field(default=2, ge=2)
    password_hash_parallelism: int = Field(default=1, ge=1)
    # How many hashes run at once (logins, registrations); the rest queue. One leaves the other
    # core of a 2-core machine to every other request.
    password_hash_concurrency: int = Field(default=1, ge=1, le=64)
    # Brute-force protection (services/auth/throttle.py): failed logins an account, and a
    # client address, may have in a window before each further one makes it wait (doubling
    # from 1 s up to the maximum); registrations per address and window.
    login_account_free_failures: int = Field(default=5, ge=1, le=1000)
    login_address_free_failures: int = Field(default=20, ge=1, le=100_000)
    login_max_wait_seconds: int = Field(default=900, ge=1, le=86_400)
    login_window_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    register_address_limit: int = Field(default=20, ge=1, le=100_000)
    # Shared with the gateway, which sends it to auth alone (`X-Gateway-Secret`): only a
    # request carrying it may name the client's address in X-Forwarded-For. Unset (local
    # runs): uvicorn's FORWARDED_ALLOW_IPS decides whose X-Forwarded-For is believed.
    gateway_secret: SecretStr | None = None
    admin_username: str | None = None
    admin_email: str | None = None
    admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _check_secrets(self) -> "AuthSettings":
        has_key = self.jwt_private_key is not None or self.jwt_private_key_file is not None
        if self.environment == "production" and not has_key:
            raise ValueError("JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is required in production")
        gateway_secret = self.gateway_secret.get_secret_value() if self.gateway_secret else None
        if gateway_secret is not None and (
            not GATEWAY_SECRET_FORM.fullmatch(gateway_secret) or "change-me" in gateway_secret
        ):
            raise ValueError(
                "GATEWAY_SECRET must be 32 to 128 letters, digits, - or _ (openssl rand -hex 32)"
            )
        if self.admin_username:
            password = self.admin_password.get_secret_value() if self.admin_password else ""
            if len(password) < 12 or password.lower() in PLACEHOLDER_PASSWORDS:
                raise ValueError(
                    "ADMIN_PASSWORD must be set, at least 12 characters, not a placeholder"
                )
        return self
