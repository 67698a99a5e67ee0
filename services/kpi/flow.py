"""A task's flow, worked out from the set of its versions, and what it adds to the aggregates.

The definitions (docs/api.md, "Flow metrics"; docs/flow-metrics.md):
- each version moves the task into its status at its `occurred_at`; a version that makes the
  task done moves it at its `completed_at` when that is later (a task imported as done is
  `todo` from its creation until its completion); moments never go back (a version is never
  earlier than the one before it);
- the task starts at its first move into `in_progress`; it is completed at its last move into
  `done`, if it is done now (a reopen takes the completion back; the next one counts);
- lead time: completion - `created_at`; cycle time: completion - start (none when the task was
  never in progress);
- a completed task is credited to its assignee at completion, the assignee of the version that
  made it done: a later reassignment does not move it (the completion's own version, after a
  reopen, credits its own assignee); a task not done is its current assignee's;
- a deleted task contributes nothing.

The result depends only on the set of versions, not on the order they arrived in, so adding a
version takes the task's old contribution out and puts the new one in.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.kpi.models import UNASSIGNED
from services.kpi.periods import periods_of
from shared.contracts.events import TaskStatus

RATIO = 1.02  # consecutive histogram bins' bounds; a bin's value is within 1% of its members
LEAD, CYCLE = "lead", "cycle"
StatusKey = tuple[str, datetime, str]  # (level, period, status)
CompletionKey = tuple[str, datetime, str, int, int]  # (level, period, measure, assignee, bin)


@dataclass(frozen=True)
class Version:
    """One version of a task, as `task_history` keeps it."""

    version: int
    occurred_at: datetime
    status: str
    assignee_id: int | None
    created_at: datetime
    completed_at: datetime | None
    deleted: bool


@dataclass(frozen=True)
class Flow:
    """A live task's moves between statuses, its first start and its completion."""

    moves: tuple[tuple[datetime, str | None, str], ...]  # (at, from, to); from None: created
    status: str
    assignee_id: int | None  # at completion if the task is done, else the current one
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None  # None unless the task is done

    def times(self) -> dict[str, float]:
        """The completed task's lead time and, if it was ever started, its cycle time."""
        if self.completed_at is None:
            return {}
        times = {LEAD: lead_seconds(self.created_at, self.completed_at)}
        if self.started_at is not None:
            times[CYCLE] = cycle_seconds(self.started_at, self.completed_at)
        return times


def lead_seconds(created_at: datetime, completed_at: datetime) -> float:
    """Lead time: creation to completion (0 for a completion dated before the creation)."""
    return max(0.0, (completed_at - created_at).total_seconds())


def cycle_seconds(started_at: datetime, completed_at: datetime) -> float:
    """Cycle time: first start to completion."""
    return (completed_at - started_at).total_seconds()


def flow_of(versions: Iterable[Version]) -> Flow | None:
    """The task's flow from the versions known so far; None for a deleted (or unknown) task."""
    ordered = sorted(versions, key=lambda version: version.version)
    if not ordered or any(version.deleted for version in ordered):
        return None
    moves: list[tuple[datetime, str | None, str]] = []
    current: str | None = None
    moment, started, completed = ordered[0].occurred_at, None, None
    assignee = ordered[0].assignee_id
    for version in ordered:
        moment = max(moment, version.occurred_at)
        entering_done = version.status == TaskStatus.DONE and current != TaskStatus.DONE
        if entering_done and version.completed_at is not None and version.completed_at > moment:
            if current is None:
                moves.append((moment, None, TaskStatus.TODO.value))
                current = TaskStatus.TODO.value
            moment = version.completed_at
        if version.status != current:
            moves.append((moment, current, version.status))
            current = version.status
            if current == TaskStatus.IN_PROGRESS and started is None:
                started = moment
            completed = moment if current == TaskStatus.DONE else None
        if current != TaskStatus.DONE or entering_done:
            assignee = version.assignee_id
    last = ordered[-1]
    assert current is not None
    return Flow(tuple(moves), current, assignee, last.created_at, started, completed)


def bin_of(seconds: float) -> int:
    """The histogram bin of a duration: 0 under a second, then log-spaced by `RATIO`."""
    return 0 if seconds < 1 else 1 + math.floor(math.log(seconds) / math.log(RATIO))


def bin_value(index: int) -> float:
    """The value a bin stands for: the geometric middle of its bounds (0 for bin 0)."""
    return 0.0 if index == 0 else RATIO ** (index - 1) * math.sqrt(RATIO)


class Contributions:
    """What flows add to the aggregates, netted per row (`sign` -1 takes a flow out)."""

    def __init__(self) -> None:
        self.statuses: dict[StatusKey, int] = {}
        self.completions: dict[CompletionKey, tuple[int, float]] = {}

    def add(self, flow: Flow | None, *, sign: int) -> None:
        if flow is None:
            return
        for at, before, after in flow.moves:
            for level, period in periods_of(at):
                if before is not None:
                    key = (level, period, before)
                    self.statuses[key] = self.statuses.get(key, 0) - sign
                key = (level, period, after)
                self.statuses[key] = self.statuses.get(key, 0) + sign
        if flow.completed_at is None:
            return
        assignee = flow.assignee_id if flow.assignee_id is not None else UNASSIGNED
        for measure, seconds in flow.times().items():
            for level, period in periods_of(flow.completed_at):
                row = (level, period, measure, assignee, bin_of(seconds))
                count, total = self.completions.get(row, (0, 0.0))
                self.completions[row] = (count + sign, total + sign * seconds)
