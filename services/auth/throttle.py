"""Brute-force protection: failed logins counted per account and per client address, and
registrations per address, in `auth.login_attempt` (so every replica sees the same counts).

Each count runs in a window that starts with its first attempt (`window_seconds`) and is
forgotten when the window is over. Past its free failures, each further failure of an account
(or an address) makes it wait before the next attempt: 1 s, then 2 s, 4 s, ... up to
`max_wait_seconds`. An attempt during the wait is answered 429 with `Retry-After`, without
checking the password. A successful login resets its account's count (not its address's:
an attacker's own account must not wipe the count of the address it guesses from).
Registrations are limited per address on their own: `register_limit` per window.
"""

import asyncio
import math
from collections import Counter as Tally
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.auth.config import AuthSettings
from shared.core.errors import AppError


class Scope(StrEnum):
    """What a count is kept for (`auth.login_attempt.scope`)."""

    ACCOUNT = "account"  # failed logins of one username, as typed, lower case
    ADDRESS = "address"  # failed logins from one client address
    REGISTER = "register"  # registrations from one client address


@dataclass(frozen=True)
class Attempts:
    """A stored count: how many in the window, when the window started, the latest one."""

    count: int
    window_started_at: datetime
    last_at: datetime


class TooManyAttemptsError(AppError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class Throttle:
    """The limits, and the decisions made from stored counts."""

    account_free_failures: int = 5
    address_free_failures: int = 20
    max_wait_seconds: int = 900
    window_seconds: int = 3600
    register_limit: int = 20

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "Throttle":
        """The limits the settings configure."""
        return cls(
            account_free_failures=settings.login_account_free_failures,
            address_free_failures=settings.login_address_free_failures,
            max_wait_seconds=settings.login_max_wait_seconds,
            window_seconds=settings.login_window_seconds,
            register_limit=settings.register_address_limit,
        )

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def max_wait(self) -> timedelta:
        return timedelta(seconds=self.max_wait_seconds)

    def login_wait(self, scope: Scope, attempts: Attempts | None, *, now: datetime) -> int:
        """Seconds to wait before the next login attempt may be checked; 0: go ahead."""
        if attempts is None or attempts.window_started_at <= now - self.window:
            return 0
        free = self.account_free_failures if scope is Scope.ACCOUNT else self.address_free_failures
        beyond = attempts.count - free
        if beyond <= 0:
            return 0
        wait = min(2 ** min(beyond - 1, 30), self.max_wait_seconds)
        left = (attempts.last_at + timedelta(seconds=wait) - now).total_seconds()
        return max(0, math.ceil(left))

    def check_login(
        self, account: Attempts | None, address: Attempts | None, *, now: datetime
    ) -> None:
        """429 while the account or the address has to wait."""
        wait = max(
            self.login_wait(Scope.ACCOUNT, account, now=now),
            self.login_wait(Scope.ADDRESS, address, now=now),
        )
        if wait:
            raise TooManyAttemptsError(
                "Too many failed sign-ins; wait before trying again.", retry_after=wait
            )

    def check_registration(self, attempts: Attempts, *, now: datetime) -> None:
        """429 once the address has registered `register_limit` times in the window."""
        if attempts.count > self.register_limit:
            left = (attempts.window_started_at + self.window - now).total_seconds()
            raise TooManyAttemptsError(
                "Too many registrations from this address; try again later.",
                retry_after=max(1, math.ceil(left)),
            )


class AccountQueue:
    """One login attempt per account at a time in this process; the others wait their turn.

    So each attempt reads the count its predecessors wrote: a burst of guesses at one account
    cannot all be checked before the first failures are counted. (Hashing is a queue anyway,
    `PASSWORD_HASH_CONCURRENCY`, so an account's own logins lose nothing by it.)
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: Tally[str] = Tally()

    @asynccontextmanager
    async def turn(self, account: str) -> AsyncIterator[None]:
        """Wait for the account's earlier attempts in this process, then hold its turn."""
        lock = self._locks.setdefault(account, asyncio.Lock())
        self._holders[account] += 1
        try:
            async with lock:
                yield
        finally:
            self._holders[account] -= 1
            if not self._holders[account]:  # nobody waits: forget the account
                del self._holders[account], self._locks[account]
