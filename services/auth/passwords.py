"""Argon2id password hashing, with a dummy check so unknown users cost as much as known ones."""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


class Passwords:
    """Hash and verify passwords with the configured Argon2id cost."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
        )
        self._dummy = self._hash.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one uses older parameters."""
        return self._hash.verify_and_update(password, password_hash)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real check, for a user that does not exist."""
        self._hash.verify(password, self._dummy)
