"""`make bench`: does a KPI answer slow down as tasks pile up? It should not (read model).

On a fresh database of its own (`efficient_bench_test`, on `TEST_DATABASE_URL`'s server), with
the kpi schema migrated, it applies task events through the consumer's handler, then times each
KPI for one month, and the flow metrics of a window of that month (median of many calls):
first with only that month's tasks, then after many more tasks in other months, then after the
same month itself has grown about 40x. A design that scanned every task would slow down by
about the ratio of the task counts; the read model should stay near 1x after the other
months' tasks (a KPI that reads the month's own rows grows with the month). For
contrast it also times what such a design does: a recount of the month over every task row.
"""

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from benchmarks import system
from conftest import DEFAULT_TEST_DATABASE_URL, fresh_database
from services.kpi import flow_service, service
from services.kpi.consumer import handle_batch
from services.kpi.flow_schemas import FlowWindow
from services.kpi.models import TASK_TABLES, TaskState
from services.kpi.schemas import MonthSpan
from shared.contracts.events import TaskEvent, TaskStatus
from shared.core.db import Database
from shared.core.migrations import upgrade
from shared.web.months import MonthRange
from tests.events import create_snapshot, create_task_event

ROOT = Path(__file__).parents[1]
MONTH = MonthRange.of(2025, 6)
ZONED = MonthRange.of(2025, 6, "Asia/Kathmandu")
WINDOW = FlowWindow(first=date(2025, 6, 1), last=date(2025, 6, 30), tz="Asia/Kathmandu")


def load(
    session: Session, *, count: int, first_id: int, months: list[date], rng: random.Random
) -> None:
    """Apply `count` task.created events spread over `months`, in the consumer's batches of 100.

    Then VACUUM ANALYZE, as autovacuum would soon do: the counters were updated once per batch,
    and their dead row versions are not what a steady system reads through.
    """
    batch: list[TaskEvent] = []
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
        batch.append(create_task_event(task=snapshot))
        if len(batch) == 100 or n == count - 1:
            handle_batch(session, batch)
            session.commit()
            batch = []
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in TASK_TABLES:
            connection.execute(text(f"VACUUM ANALYZE kpi.{table}"))


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
        "completion-rate": lambda: service.completion_rate(session.connection(), month=MONTH),
        "by-user": lambda: service.by_user(session.connection(), month=MONTH),
        "monthly": lambda: service.monthly(session.connection(), month=MONTH),
        "trend (12 months)": lambda: service.trend(session.connection(), span=span),
        "monthly (Asia/Kathmandu)": lambda: service.monthly(session.connection(), month=ZONED),
        "flow times (June, Kathmandu)": lambda: flow_service.times(
            session, window=WINDOW, by_assignee=True
        ),
        "flow cumulative (June)": lambda: flow_service.cumulative_flow(session, window=WINDOW),
        "flow throughput (June, days)": lambda: flow_service.throughput(
            session, window=WINDOW, per="day"
        ),
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


def load_timed(session: Session, *, count: int, first_id: int, months: list[date]) -> float:
    """`load`, with its rate in events per second."""
    started = time.perf_counter()
    load(session, count=count, first_id=first_id, months=months, rng=random.Random(first_id))
    return count / (time.perf_counter() - started)


def print_table(stages: dict[str, dict[str, float]], repeat: int) -> None:
    """Each KPI's median per stage, and each later stage's ratio to the first."""
    names = list(stages)
    first = stages[names[0]]
    header = f"{'KPI (median of ' + str(repeat) + ')':<32}{names[0] + ' ms':>12}"
    for name in names[1:]:
        header += f"{name + ' ms':>18}{'ratio':>8}"
    print(header)
    for kpi in first:
        line = f"{kpi:<32}{first[kpi]:>12.2f}"
        for name in names[1:]:
            line += f"{stages[name][kpi]:>18.2f}{stages[name][kpi] / first[kpi]:>7.2f}x"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kpi_scaling")
    parser.add_argument("--month-tasks", type=int, default=500)
    parser.add_argument("--other-tasks", type=int, default=20_000)
    parser.add_argument("--more-month-tasks", type=int, default=19_500)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    url = fresh_database(
        os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL), system.NAME
    )
    upgrade(ROOT / "services" / "kpi", url)
    database = Database(url, pool_size=1)
    others = [date(year, month, 1) for year in range(2020, 2025) for month in range(1, 13)]
    month, next_id = [MONTH.start.date()], args.month_tasks + 1
    with database.sessionmaker() as session:
        load(session, count=args.month_tasks, first_id=1, months=month, rng=random.Random(1))
        stages = {"before": timings(session, args.repeat)}
        rate = load_timed(session, count=args.other_tasks, first_id=next_id, months=others)
        stages["+other months"] = timings(session, args.repeat)
        next_id += args.other_tasks
        load_timed(session, count=args.more_month_tasks, first_id=next_id, months=month)
        stages["+same month"] = timings(session, args.repeat)
    database.dispose()
    in_month = args.month_tasks + args.more_month_tasks
    total = in_month + args.other_tasks
    print(
        f"tasks in 2025-06: {args.month_tasks}, then {args.other_tasks} more in other months, "
        f"then {in_month} in 2025-06 ({in_month / args.month_tasks:.0f}x) and {total} in all; "
        f"loaded through the consumer's handler at {rate:.0f} events/s"
    )
    print_table(stages, args.repeat)


if __name__ == "__main__":
    main()
