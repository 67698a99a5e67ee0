"""The rows `make bench` prints: a measurement, what it is compared with, the target, a verdict."""

import sys
from dataclasses import dataclass

from benchmarks.wrk import Summary

_COLUMNS = [
    ("scenario", 46, "<"),
    ("system", 13, ">"),
    ("reference", 13, ">"),
    ("ratio", 7, ">"),
    ("p50 ms", 8, ">"),
    ("p99 ms", 8, ">"),
    ("errors", 7, ">"),
    ("target", 9, ">"),
    ("result", 7, ">"),
]


@dataclass(frozen=True)
class Row:
    """One line of the table; `passed` None means: reported, no target."""

    scenario: str
    system: str
    reference: str = "-"
    ratio: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    target: str = "-"
    passed: bool | None = None

    def cells(self) -> list[str]:
        """The row's cells as printed."""
        verdict = {True: "PASS", False: "FAIL", None: "-"}[self.passed]
        return [
            self.scenario,
            self.system,
            self.reference,
            "-" if self.ratio is None else f"{self.ratio:.2f}x",
            "-" if self.p50_ms is None else f"{self.p50_ms:.2f}",
            "-" if self.p99_ms is None else f"{self.p99_ms:.2f}",
            "-" if self.errors is None else str(self.errors),
            self.target,
            verdict,
        ]


def at_least(scenario: str, system: Summary, reference: Summary, minimum: float | None) -> Row:
    """Throughput compared with a reference: system req/s / reference req/s >= `minimum`
    (`None`: compared, no target)."""
    ratio = system.rps / reference.rps if reference.rps else 0.0
    return Row(
        scenario=scenario,
        system=f"{system.rps:.0f} req/s",
        reference=f"{reference.rps:.0f} req/s",
        ratio=ratio,
        p50_ms=system.p50_ms,
        p99_ms=system.p99_ms,
        errors=system.errors,
        target="-" if minimum is None else f">= {minimum:g}x",
        passed=None if minimum is None else ratio >= minimum and system.errors == 0,
    )


def latency_within(scenario: str, big: Summary, small: Summary, maximum: float) -> Row:
    """Single-connection p50 as data grows: big p50 / small p50 <= `maximum`."""
    ratio = big.p50_ms / small.p50_ms if small.p50_ms else float("inf")
    return Row(
        scenario=scenario,
        system=f"{big.p50_ms:.2f} ms",
        reference=f"{small.p50_ms:.2f} ms",
        ratio=ratio,
        p50_ms=big.p50_ms,
        p99_ms=big.p99_ms,
        errors=big.errors,
        target=f"<= {maximum:g}x",
        passed=ratio <= maximum and big.errors == 0,
    )


def render(rows: list[Row]) -> str:
    """The table, with a header line and a rule under it."""
    lines = [_line([name for name, _, _ in _COLUMNS])]
    lines.append("-" * len(lines[0]))
    lines.extend(_line(row.cells()) for row in rows)
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return " ".join(
        f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, _COLUMNS, strict=True)
    )


def progress(message: str) -> None:
    """A progress line while the bench runs (flushed: runs take minutes)."""
    print(f"  . {message}", flush=True)
    sys.stdout.flush()
