"""The Ed25519 key that signs access tokens, and the JWKS that publishes its public half."""

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.auth.config import AuthSettings
from shared.security import ALGORITHM

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SigningKey:
    """A private key and its `kid` (the RFC 7638 thumbprint of its public JWK)."""

    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        """Load a PEM (PKCS#8) Ed25519 private key."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the JWT signing key must be an Ed25519 private key")
        return cls(private_key=key, kid=_thumbprint(_public_jwk(key)))

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, ready for the JWKS document."""
        return {**_public_jwk(self.private_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}


def _public_jwk(key: Ed25519PrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x")}


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def generate_pem() -> bytes:
    """A new Ed25519 private key as PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signing_key(settings: AuthSettings) -> SigningKey:
    """The configured key; outside production, a generated one kept on disk if none is set."""
    if settings.jwt_private_key is not None:
        return SigningKey.from_pem(settings.jwt_private_key.get_secret_value().encode())
    if settings.jwt_private_key_file is not None:
        return SigningKey.from_pem(settings.jwt_private_key_file.read_bytes())
    path = settings.jwt_generated_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(generate_pem())
    logger.warning(
        "using_generated_signing_key",
        path=str(path),
        hint="set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE outside local runs",
    )
    return SigningKey.from_pem(path.read_bytes())
