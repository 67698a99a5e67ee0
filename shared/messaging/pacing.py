"""How long the relays and the consumers wait to gather a batch: by how busy they are.

Every batch costs a fixed price whatever it carries: a relay's claim, publish round and commit;
a consumer's thread hop, transaction, statements and ack; RabbitMQ's and PostgreSQL's share of
each. While events come slower than a threshold (over the last second) the machine has room,
and each event goes on with the least delay: that delay is what a user sees (from a 201 to
the activity log entry). Above it, writes keep the machine busy, and waiting longer lets a
batch carry many events for that price, which leaves the CPU to the writes themselves
(docs/architecture.md, "Batches paced by load").
"""

import time
from collections import deque


class EventRate:
    """Events counted over the last `window` seconds, as a rate."""

    def __init__(self, window: float = 1.0) -> None:
        self._window = window
        self._counts: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, count: int) -> None:
        """Count `count` events now."""
        if count:
            self._counts.append((time.monotonic(), count))
            self._total += count

    def per_second(self) -> float:
        """Events a second over the window that ends now."""
        since = time.monotonic() - self._window
        while self._counts and self._counts[0][0] < since:
            self._total -= self._counts.popleft()[1]
        return self._total / self._window

    def busy(self, above_per_second: float) -> bool:
        """More than `above_per_second` events a second over the window."""
        return self.per_second() > above_per_second
