"""The Ed25519 keys of access tokens: the one that signs, the next and the previous one, and
their JWKS.

Rotation has two steps, so that a key is published before anything is signed with it
(docs/auth.md). `rotate-key` stages a new key as the next key: the JWKS publishes it,
nothing is signed with it. `promote-key`, once every auth replica publishes it and the JWKS
caches have expired, makes it current and keeps the old one as the previous key: the JWKS
still publishes that one, so tokens signed before verify until they expire.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from services.auth.config import AuthSettings
from shared.web.security import ALGORITHM

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
        return cls(private_key=key, kid=_thumbprint(_public_jwk(key.public_key())))

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, ready for the JWKS document."""
        return published_jwk(self.private_key.public_key())

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}


@dataclass(frozen=True)
class KeySet:
    """The key that signs new tokens, and the public halves of the next one (staged, signing
    nothing yet) and of the one it replaced."""

    signing: SigningKey
    previous: dict[str, Any] | None = None
    next: dict[str, Any] | None = None
    document: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        keys = [self.signing.public_jwk()]
        for other in (self.next, self.previous):
            if other is not None and other["kid"] not in {key["kid"] for key in keys}:
                keys.append(other)
        object.__setattr__(self, "document", {"keys": keys})

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: the current public key first, then the next, then the previous."""
        return self.document


def published_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """A public key as the JWKS publishes it, with its thumbprint as `kid`."""
    jwk = _public_jwk(public_key)
    return {**jwk, "kid": _thumbprint(jwk), "alg": ALGORITHM, "use": "sig"}


def previous_jwk_from_pem(pem: bytes) -> dict[str, Any]:
    """The published JWK of a previous key, given as its private or its public PEM."""
    if b"PRIVATE KEY" in pem:
        return SigningKey.from_pem(pem).public_jwk()
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the previous JWT key must be an Ed25519 key")
    return published_jwk(key)


def _public_jwk(key: Ed25519PublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key, as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x")}


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def generate_pem() -> bytes:
    """A new Ed25519 private key as PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class KeyFiles:
    """Where the current, the previous and the next key are kept (None: not in a file)."""

    current: Path | None
    previous: Path | None
    next: Path | None


def key_paths(settings: AuthSettings) -> KeyFiles:
    """The files of the current, the previous and the next key (None where the settings name
    none). Without a configured key (outside production) all live beside the generated key.
    """
    previous, next_ = settings.jwt_previous_key_file, settings.jwt_next_key_file
    if settings.jwt_private_key is not None:
        return KeyFiles(current=None, previous=previous, next=next_)
    if settings.jwt_private_key_file is not None:
        return KeyFiles(current=settings.jwt_private_key_file, previous=previous, next=next_)
    generated = settings.jwt_generated_key_path
    return KeyFiles(
        current=generated,
        previous=previous or generated.with_suffix(".previous.pem"),
        next=next_ or generated.with_suffix(".next.pem"),
    )


def load_keys(settings: AuthSettings) -> KeySet:
    """The configured keys; outside production, a generated one kept on disk if none is set."""
    files = key_paths(settings)
    current_path = files.current
    if settings.jwt_private_key is not None:
        signing = SigningKey.from_pem(settings.jwt_private_key.get_secret_value().encode())
    elif settings.jwt_private_key_file is not None:
        signing = SigningKey.from_pem(settings.jwt_private_key_file.read_bytes())
    else:
        assert current_path is not None
        if not current_path.exists():
            write_private(current_path, generate_pem())
        logger.warning(
            "using_generated_signing_key",
            path=str(current_path),
            hint="set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE outside local runs",
        )
        signing = SigningKey.from_pem(current_path.read_bytes())
    previous_pem, next_pem = _read_optional(files.previous), _read_optional(files.next)
    return KeySet(
        signing=signing,
        previous=previous_jwk_from_pem(previous_pem) if previous_pem else None,
        next=SigningKey.from_pem(next_pem).public_jwk() if next_pem else None,
    )


def _read_optional(path: Path | None) -> bytes:
    """A key file's PEM; empty when there is none (deployments may mount an empty file)."""
    pem = path.read_bytes() if path is not None and path.exists() else b""
    return pem if pem.strip() else b""


def stage(*, next_file: Path) -> str:
    """Write a new key as the next key (published, signing nothing yet): its kid."""
    staged = _read_optional(next_file)
    if staged:
        raise ValueError(
            f"{next_file} already holds a staged key (kid {SigningKey.from_pem(staged).kid}): "
            "promote it first (promote-key)"
        )
    new_pem = generate_pem()
    write_private(next_file, new_pem)
    return SigningKey.from_pem(new_pem).kid


def promote(*, key_file: Path, previous_file: Path, next_file: Path) -> tuple[str, str]:
    """Make the next key current, keep the current one as the previous: (old, new) kid."""
    next_pem = _read_optional(next_file)
    if not next_pem:
        raise ValueError(f"{next_file} holds no staged key: stage one first (rotate-key)")
    old = SigningKey.from_pem(key_file.read_bytes())
    write_private(previous_file, key_file.read_bytes())
    write_private(key_file, next_pem)
    write_private(next_file, b"")
    return old.kid, SigningKey.from_pem(next_pem).kid


def write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, all at once (a reader never sees half a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.replace(partial, path)
