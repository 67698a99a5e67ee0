"""Bulk data for the list and KPI scenarios, written straight into the database.

Loading 100k tasks through the API would take minutes, so the bench inserts them with SQL:
into `tasks.task` (as the tasks service stores them) and, for the same ids, into the KPI read
model (`kpi.task_state`), whose counters are then recounted from `task_state`. The result is
what the KPI consumer would have built from those tasks' `task.created` events. Only the bench
writes across schemas like this; the services never do. Run it while the consumers are idle.
"""

import time
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Engine

MONTH = date(2025, 6, 1)  # grown to 10k and 100k tasks
SMALL_MONTH = date(2024, 6, 1)  # 1k tasks: the KPIs of a small month, beside the grown one
_MONTH_SECONDS = 30 * 24 * 3600

_COUNT = text("SELECT count(*) FROM tasks.task WHERE created_at >= :start AND created_at < :end")
# Spread over the month by a fixed step (no randomness: every run loads the same rows).
_INSERT_TASKS = text(
    """
    INSERT INTO tasks.task (title, description, status, assignee_id, creator_id, due_date,
                            created_at, updated_at, completed_at, version)
    SELECT 'Bench task ' || n, NULL, status, assignee_id, :creator_id, at + interval '7 days',
           at, at, CASE WHEN status = 'done' THEN at + interval '2 days' END, 1
    FROM (
        SELECT n,
               (ARRAY['todo', 'in_progress', 'done'])[1 + n % 3] AS status,
               (CAST(:assignees AS bigint[]))[1 + n % cardinality(CAST(:assignees AS bigint[]))]
                   AS assignee_id,
               CAST(:start AS timestamptz) + make_interval(secs => (n * 7919) % :month_seconds)
                   AS at
        FROM generate_series(:first, :last) AS n
    ) AS rows
    """
)
_COPY_TO_KPI = text(
    """
    INSERT INTO kpi.task_state (task_id, version, status, assignee_id, created_at, due_date,
                                completed_at, deleted)
    SELECT id, version, status, assignee_id, created_at, due_date, completed_at, false
    FROM tasks.task WHERE created_at >= :start AND created_at < :end
    ON CONFLICT (task_id) DO NOTHING
    """
)
_RECOUNT = [
    text("DELETE FROM kpi.month_counter"),
    text(
        """
        INSERT INTO kpi.month_counter (month, assignee_key, status, count)
        SELECT CAST(date_trunc('month', created_at AT TIME ZONE 'UTC') AS date),
               coalesce(assignee_id, 0), status, count(*)
        FROM kpi.task_state WHERE NOT deleted GROUP BY 1, 2, 3
        """
    ),
    text("DELETE FROM kpi.completion_counter"),
    text(
        """
        INSERT INTO kpi.completion_counter (month, completed, total_seconds)
        SELECT CAST(date_trunc('month', completed_at AT TIME ZONE 'UTC') AS date), count(*),
               sum(extract(epoch FROM completed_at - created_at))
        FROM kpi.task_state
        WHERE NOT deleted AND status = 'done' AND completed_at IS NOT NULL GROUP BY 1
        """
    ),
    text("DELETE FROM kpi.due_counter"),
    text(
        """
        INSERT INTO kpi.due_counter (month, due_hour, count)
        SELECT CAST(date_trunc('month', created_at AT TIME ZONE 'UTC') AS date),
               date_trunc('hour', due_date AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
        FROM kpi.task_state
        WHERE NOT deleted AND status <> 'done' AND due_date IS NOT NULL GROUP BY 1, 2
        """
    ),
    text("DELETE FROM kpi.due_day_counter"),
    text(
        """
        INSERT INTO kpi.due_day_counter (month, due_day, count)
        SELECT month, CAST(due_hour AT TIME ZONE 'UTC' AS date), sum(count)
        FROM kpi.due_counter GROUP BY 1, 2
        """
    ),
]


def month_bounds(month: date = MONTH) -> dict[str, str]:
    """A bench month as query parameters."""
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {
        "start": f"{month.isoformat()}T00:00:00+00:00",
        "end": f"{end.isoformat()}T00:00:00+00:00",
    }


def grow_month(
    engine: Engine,
    *,
    total: int,
    creator_id: int,
    assignees: list[int | None],
    month: date = MONTH,
) -> tuple[int, float]:
    """Add tasks to a bench month until it holds `total`; (how many were added, seconds)."""
    started = time.perf_counter()
    bounds = month_bounds(month)
    with engine.begin() as connection:
        present = connection.scalar(_COUNT, bounds) or 0
        added = max(total - present, 0)
        if added:
            connection.execute(
                _INSERT_TASKS,
                {
                    **bounds,
                    "creator_id": creator_id,
                    "assignees": assignees,
                    "month_seconds": _MONTH_SECONDS,
                    "first": present + 1,
                    "last": present + added,
                },
            )
        connection.execute(_COPY_TO_KPI, bounds)
        for statement in _RECOUNT:
            connection.execute(statement)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # Now rather than by autovacuum in the middle of a measurement.
        for table in (
            "tasks.task",
            "kpi.task_state",
            "kpi.month_counter",
            "kpi.completion_counter",
            "kpi.due_counter",
            "kpi.due_day_counter",
        ):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return added, time.perf_counter() - started
