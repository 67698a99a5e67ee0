"""CPU time per request, from `/proc`: steadier than req/s on a shared machine.

A process's CPU time (utime + stime of `/proc/<pid>/stat`, all its threads) is read before and
after a wrk run; divided by the requests wrk counted, it is what one request cost that process,
whatever else the machine was doing meanwhile.
"""

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.event_tools import consumer_pids
from benchmarks.report import Row, progress
from benchmarks.wrk import Result

_TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
# The apps' uvicorn processes, by the factory on their command lines.
TASKS_APP = "services.tasks.main:create_app"
KPI_APP = "services.kpi.main:create_app"
BASELINE_APP = "benchmarks.baseline:create_app"


def cpu_seconds(pids: Sequence[int]) -> float:
    """The CPU time the processes have used so far (user + system), in seconds."""
    total = 0
    for pid in pids:
        # The fields after the command name (which may hold spaces) start with the state, the
        # 3rd field; utime and stime are the 14th and 15th.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total * _TICK_SECONDS


def app_pids(roots: Sequence[int], app: str) -> list[int]:
    """The uvicorn processes serving `app` under any of `roots`."""
    for root in roots:
        try:
            return consumer_pids(root, app)
        except RuntimeError:
            continue
    raise RuntimeError(f"no process serves {app} under {list(roots)}")


@dataclass
class CpuMeter:
    """The CPU microseconds per request of some processes, over the runs it wraps."""

    pids: list[int]
    samples: list[float] = field(default_factory=list)

    def around(self, run: Callable[[], Result]) -> Callable[[], Result]:
        """`run`, with the processes' CPU time per request recorded."""

        def measured() -> Result:
            before = cpu_seconds(self.pids)
            result = run()
            used = cpu_seconds(self.pids) - before
            if result.requests:
                self.samples.append(used * 1e6 / result.requests)
                progress(f"  CPU {self.samples[-1]:.0f} us/request (pids {self.pids})")
            return result

        return measured

    @property
    def median_us(self) -> float:
        """The median of the samples, in microseconds per request."""
        return statistics.median(self.samples) if self.samples else float("nan")


def cpu_row(scenario: str, system: CpuMeter, baseline: CpuMeter | None = None) -> Row:
    """A reported line (no target): the system's CPU per request, beside the baseline's."""
    reference = "-" if baseline is None else f"{baseline.median_us:.0f} us"
    ratio = None if baseline is None else system.median_us / baseline.median_us
    return Row(
        scenario=f"CPU/request {scenario}",
        system=f"{system.median_us:.0f} us",
        reference=reference,
        ratio=ratio,
    )
