"""Access tokens for the tests of services other than auth, signed like auth signs them."""

from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shared.contracts.roles import Role
from shared.web.security import ALGORITHM, StaticKeySource, TokenVerifier

ISSUER = "efficient-system-auth"
AUDIENCE = "efficient-system"


class TestSigner:
    """A stand-in for auth's key: signs tokens and verifies them as a service would."""

    __test__ = False

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-key"

    def jwks(self) -> dict[str, object]:
        jwk = OKPAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}]}

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(keys=StaticKeySource(self.jwks()), issuer=ISSUER, audience=AUDIENCE)

    def token(
        self, user_id: int, *, role: Role = Role.USER, ttl: timedelta = timedelta(minutes=5)
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "role": role.value,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def headers(self, user_id: int, *, role: Role = Role.USER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, role=role)}"}
