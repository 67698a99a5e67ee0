"""Access tokens (short-lived EdDSA JWTs) and refresh tokens (random, stored only as a hash)."""

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt

from services.auth.keys import SigningKey
from shared.contracts.roles import Role
from shared.web.security import ALGORITHM


class TokenIssuer:
    """Sign access tokens with the auth service's private key."""

    def __init__(
        self, key: SigningKey, *, issuer: str, audience: str, access_ttl: timedelta
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl

    def access_token(self, *, user_id: int, role: Role, now: datetime) -> str:
        """A signed access token for the user, valid for `access_ttl` from `now`."""
        claims = {
            "sub": str(user_id),
            "role": role.value,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self.access_ttl).timestamp()),
        }
        return jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )


def new_refresh_token() -> str:
    """An unguessable opaque refresh token."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database keeps of a refresh token: a leaked table cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()
