"""When a failed delivery is tried again: the Standard Webhooks schedule, with jitter.

Attempt 1 goes at once; after a failed attempt n the next waits `SCHEDULE[n]` (give or take
`JITTER`), so 8 attempts in all over about 27.5 hours; then the delivery has failed. A
`Retry-After` answer waits at least what it asks, up to the longest step.
"""

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)  # seconds
JITTER = 0.2  # each wait is drawn from [1 - JITTER, 1 + JITTER] times its step
MAX_RETRY_AFTER = SCHEDULE[-1]


def next_wait(
    attempts_made: int, *, retry_after: float | None = None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; `None`: no more."""
    if attempts_made >= len(SCHEDULE):
        return None
    wait = SCHEDULE[attempts_made] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return wait


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A `Retry-After` header's wait: seconds, or an HTTP date; `None` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if until.tzinfo is None:
        return None
    return max(0.0, (until - now).total_seconds())
