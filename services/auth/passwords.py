"""Argon2id password hashing, with a dummy check so unknown users cost as much as known ones.

A hash costs tens of milliseconds of CPU. Requests hash in a pool of their own, at most
`concurrency` at once, never on the event loop and never in a database thread (which would
hold a pooled connection meanwhile): logins queue for the hasher while every other request,
the JWKS included, goes on at full speed.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from services.auth.config import AuthSettings


class Passwords:
    """Hash and verify passwords with the configured Argon2id cost."""

    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, concurrency: int = 1
    ) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
        )
        self._dummy = self._hash.hash("not-a-real-password")
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="argon2")

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "Passwords":
        """The hashing cost and concurrency the settings configure."""
        return cls(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
            concurrency=settings.password_hash_concurrency,
        )

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one uses older parameters."""
        return self._hash.verify_and_update(password, password_hash)

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real check, for a user that does not exist."""
        self._hash.verify(password, self._dummy)

    async def hash_async(self, password: str) -> str:
        """`hash`, in the hashing pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.hash, password)

    async def verify_async(
        self, password: str, password_hash: str | None
    ) -> tuple[bool, str | None]:
        """`verify` in the hashing pool; with no stored hash, the dummy check and False."""
        loop = asyncio.get_running_loop()
        if password_hash is None:
            await loop.run_in_executor(self._pool, self.verify_dummy, password)
            return False, None
        return await loop.run_in_executor(self._pool, self.verify, password, password_hash)

    def close(self) -> None:
        """Stop the hashing threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
