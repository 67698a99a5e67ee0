"""`make bench`: does a KPI answer slow down as tasks pile up? It should not (read model).

On a fresh database of its own (`efficient_bench_test`, on `TEST_DATABASE_URL`'s server), with
the kpi schema migrated, it applies task events through the consumer's handler, then times each
KPI for one month (median of many calls): first with only that month's tasks, then again after
many more tasks in other months. A design that scanned every task would slow down by about the
ratio of the task counts; the read model should stay near 1x. For contrast it also times what
such a design does: a recount of the month over every task row.
"""

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conftest import DEFAULT_TEST_DATABASE_URL, fresh_database
from services.kpi import service
from services.kpi.consumer import handle
from services.kpi.models import TaskState
from services.kpi.schemas import MonthSpan
from shared.db import Database
from shared.events import TaskStatus
from shared.migrations import upgrade
from shared.months import MonthRange
from tests.events import create_snapshot, create_task_event

ROOT = Path(__file__).parents[1]
MONTH = MonthRange.of(2025, 6)


def load(
    session: Session, *, count: int, first_id: int, months: list[date], rng: random.Random
) -> None:
    """Apply `count` task.created events spread over `months`, committing every 1,000."""
    for n in range(count):
        month = rng.choice(months)
        at = datetime(month.year, month.month, 1, tzinfo=UTC) + timedelta(
            minutes=rng.randint(0, 40_000)
        )
        status = rng.choice(list(TaskStatus))
        snapshot = create_snapshot(
            task_id=first_id + n,
            status=status,
            at=at,
            assignee_id=rng.choice([None, 2, 3, 4, 5]),
            due_date=at + timedelta(days=7),
        )
        handle(session, create_task_event(task=snapshot))
        if n % 1000 == 999:
            session.commit()
    session.commit()


def median_ms(call: Callable[[], object], repeat: int) -> float:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations)


def timings(session: Session, repeat: int) -> dict[str, float]:
    span = MonthSpan(first=date(2025, 1, 1), last=date(2025, 12, 1))
    calls: dict[str, Callable[[], object]] = {
        "completion-rate": lambda: service.completion_rate(session, month=MONTH),
        "by-user": lambda: service.by_user(session, month=MONTH),
        "monthly": lambda: service.monthly(session, month=MONTH),
        "trend (12 months)": lambda: service.trend(session, span=span),
        "recount by scanning all tasks": lambda: session.execute(
            select(TaskState.status, func.count())
            .where(
                func.date_trunc("month", TaskState.created_at) == MONTH.start,
                TaskState.deleted.is_(False),
            )
            .group_by(TaskState.status)
        ).all(),
    }
    result = {}
    for name, call in calls.items():
        result[name] = median_ms(call, repeat)
        session.rollback()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kpi_scaling")
    parser.add_argument("--month-tasks", type=int, default=500)
    parser.add_argument("--other-tasks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    url = fresh_database(
        os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL), "efficient_bench_test"
    )
    upgrade(ROOT / "services" / "kpi", url)
    database = Database(url, pool_size=1)
    rng = random.Random(1)
    others = [date(year, month, 1) for year in range(2020, 2025) for month in range(1, 13)]
    with database.sessionmaker() as session:
        load(session, count=args.month_tasks, first_id=1, months=[MONTH.start.date()], rng=rng)
        before = timings(session, args.repeat)
        started = time.perf_counter()
        load(session, count=args.other_tasks, first_id=args.month_tasks + 1, months=others, rng=rng)
        loaded_in = time.perf_counter() - started
        after = timings(session, args.repeat)
    database.dispose()
    total = args.month_tasks + args.other_tasks
    print(
        f"tasks: {args.month_tasks} in 2025-06, then {total} in all "
        f"({total / args.month_tasks:.0f}x; loaded through the handler at "
        f"{args.other_tasks / loaded_in:.0f} events/s)"
    )
    print(
        f"{'KPI (median of ' + str(args.repeat) + ')':<32}{'before ms':>10}{'after ms':>10}"
        f"{'ratio':>8}"
    )
    for name in before:
        print(
            f"{name:<32}{before[name]:>10.2f}{after[name]:>10.2f}"
            f"{after[name] / before[name]:>7.2f}x"
        )


if __name__ == "__main__":
    main()
