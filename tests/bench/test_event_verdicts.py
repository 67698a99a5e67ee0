"""The verdicts of the event-path bench lines, from given samples (no timing involved)."""

import math

from benchmarks.event_tools import backlog_verdict, percentile


def test_percentile_is_a_measured_value_by_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_fails_every_target() -> None:
    assert math.isnan(percentile([], 0.5))
    assert not percentile([], 0.5) <= 20.0


def test_a_backlog_that_keeps_growing_is_not_bounded() -> None:
    verdict = backlog_verdict([100 * n for n in range(30)], interval=1.0, margin=200)
    assert (verdict.middle_max, verdict.last_max, verdict.peak) == (1900, 2900, 2900)
    assert math.isclose(verdict.trend, 100.0)
    assert not verdict.bounded


def test_a_backlog_that_levels_off_is_bounded() -> None:
    samples = [0, 400, 800, 1000, 1100, 1050, 1120, 1080, 1150, 1100, 1090, 1130]
    verdict = backlog_verdict(samples, interval=1.0, margin=200)
    assert (verdict.middle_max, verdict.last_max) == (1120, 1150)
    assert verdict.bounded


def test_a_small_rise_within_the_margin_is_bounded() -> None:
    samples = [0, 0, 0, 10, 20, 30, 150, 180, 220]
    assert backlog_verdict(samples, interval=1.0, margin=200).bounded


def test_too_few_samples_prove_nothing() -> None:
    assert not backlog_verdict([0, 0], interval=1.0, margin=200).bounded
