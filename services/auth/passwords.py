"""Argon2id password hashing, with a dummy check so unknown users cost as much as known ones."""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from services.auth.config import AuthSettings


class Passwords:
    """Hash and verify passwords with the configured Argon2id cost."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
        )
        self._dummy = self._hash.hash("not-a-real-password")

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "Passwords":
        """The hashing cost the settings configure."""
        return cls(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
        )

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one uses older parameters."""
        return self._hash.verify_and_update(password, password_hash)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real check, for a user that does not exist."""
        self._hash.verify(password, self._dummy)
