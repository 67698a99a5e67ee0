"""The rate that decides whether a relay or a consumer waits to batch
(`shared.messaging.pacing`)."""

import time

import pytest

from shared.messaging.pacing import EventRate


def test_the_rate_counts_only_the_last_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    rate = EventRate(window=1.0)

    rate.add(150)
    now[0] += 0.5
    rate.add(200)
    rate.add(0)
    assert rate.per_second() == 350

    now[0] += 0.75  # the first count is past the window
    assert rate.per_second() == 200
    now[0] += 1.0
    assert rate.per_second() == 0
