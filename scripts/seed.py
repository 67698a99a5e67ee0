"""`make seed`: fill a running system with a realistic team history, through the gateway.

Five users work through a few hundred tasks over the past weeks (`--weeks`, 10): tasks arrive
on working days, wait a while, are started (assigned then, if they were not), take each person
their own time (log-normal: mostly a day or two, sometimes much longer), are completed, and
some are reopened and completed again; the newest are still waiting or in progress. The admin
`demo_admin` imports that history: each task with its `created_at`, then each change with its
`changed_at` (docs/api.md, "Tasks"), so the events, the activity log and every KPI (flow metrics
included) date each step when it happened. Then the users move a few tasks on now, and a few
are deleted. The admin is created with the auth service's own deploy-time command (the only
way an admin ever comes to be), with a new random password each run, and the seed refuses to
run if someone registered that name as a user; everything else goes through the public API.
Running it twice adds another batch of tasks.
"""

import argparse
import math
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.auth.config import AuthSettings
from services.auth.manage import create_admin

USERS = ["alice", "bob", "carol", "dave", "erin"]
SPEEDS = [0.7, 1.0, 1.3, 0.9, 1.8]  # each user's pace: a factor on the typical time
PASSWORD = "demo-password"
ADMIN = "demo_admin"
TITLES = [
    "Write the report",
    "Review the pull request",
    "Plan the sprint",
    "Fix the login bug",
    "Update the docs",
    "Call the supplier",
    "Prepare the demo",
    "Clean up the backlog",
    "Migrate the database",
    "Design the dashboard",
    "Interview a candidate",
    "Pay invoices",
]


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request; waits out a 429 (the gateway's flood guard, auth's limits) as told."""
    while True:
        response = client.request(method, path, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "2")))


def sign_in(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    """Log in, registering first only when the user is new (registrations are limited)."""
    credentials = {"username": username, "password": password}
    tokens = call(client, "POST", "/auth/login", json=credentials)
    if tokens.status_code == 401:
        body = {**credentials, "email": f"{username}@example.com"}
        registered = call(client, "POST", "/auth/register", json=body)
        if registered.status_code not in (201, 409):
            registered.raise_for_status()
        tokens = call(client, "POST", "/auth/login", json=credentials)
    tokens.raise_for_status()
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def seed(
    url: str, *, tasks: int, weeks: int, rng: random.Random, auth_settings: AuthSettings
) -> None:
    """Create the demo users and `tasks` tasks with their history, then change some of them now."""
    admin_password = secrets.token_urlsafe(24)
    create_admin(
        auth_settings,
        username=ADMIN,
        email=f"{ADMIN}@example.com",
        password=admin_password,
        promote=False,
        reset_password=True,
    )
    with httpx.Client(base_url=url, timeout=10) as client:
        admin = sign_in(client, ADMIN, admin_password)
        people = [sign_in(client, name, PASSWORD) for name in USERS]
        by_id = {call(client, "GET", "/auth/me", headers=h).json()["id"]: h for h in people}
        team = Team(speeds=dict(zip(by_id, SPEEDS, strict=True)), rng=rng)
        now = datetime.now(UTC)
        plans = team.history(now - timedelta(weeks=weeks), now, count=tasks)
        created = [import_task(client, admin, plan=plan) for plan in plans]
        change_now(client, admin, created, by_id=by_id, rng=rng)
    print(f"seeded {len(USERS)} users (password {PASSWORD!r}) and {tasks} tasks at {url}")


def change_now(
    client: httpx.Client,
    admin: dict[str, str],
    tasks: list[dict[str, Any]],
    *,
    by_id: dict[int, dict[str, str]],
    rng: random.Random,
) -> None:
    """Today's work: a few open tasks moved on by their assignees, a few deleted."""
    open_tasks = [task for task in tasks if task["status"] != "done"]
    for task in rng.sample(open_tasks, k=min(15, len(open_tasks))):
        actor = by_id.get(task["assignee_id"], admin)  # the assignee, if there is one
        status = "done" if task["status"] == "in_progress" else "in_progress"
        call(client, "PATCH", f"/tasks/{task['id']}", json={"status": status}, headers=actor)
    for task in rng.sample(tasks, k=min(5, len(tasks))):
        call(client, "DELETE", f"/tasks/{task['id']}", headers=admin)


def working_time(moment: datetime) -> datetime:
    """`moment`, or the next working hour after it (Monday to Friday, 08:00 to 18:00 UTC)."""
    while moment.weekday() >= 5 or not 8 <= moment.hour < 18:
        moment = (moment + timedelta(hours=1)).replace(minute=0)
    return moment


DONE: dict[str, Any] = {"status": "done"}


@dataclass
class Plan:
    """A task as created, and its later changes with their moments, in order."""

    body: dict[str, Any]
    changes: list[tuple[datetime, dict[str, Any]]]


@dataclass
class Team:
    """How the team works: each member's pace (a factor on the typical time), two tasks at a
    time each, the oldest waiting task first (or the one assigned to them)."""

    speeds: dict[int, float]
    rng: random.Random
    slots: int = 2

    def duration(self, assignee: int, *, median_days: float) -> timedelta:
        """A log-normal stretch of work: mostly near the median, now and then much longer."""
        days = self.rng.lognormvariate(math.log(median_days * self.speeds[assignee]), 0.8)
        return timedelta(days=days)

    def history(self, first: datetime, now: datetime, *, count: int) -> list[Plan]:
        """`count` tasks: a backlog waiting at `first`, the rest arriving until now."""
        backlog = min(count // 10, 30)
        arrivals = [first] * backlog + [
            min(working_time(first + (now - first) * self.rng.random()), now)
            for _ in range(count - backlog)
        ]
        free = {(member, slot): first for member in self.speeds for slot in range(self.slots)}
        return [self._plan(created, now, free) for created in sorted(arrivals)]

    def _plan(
        self, created: datetime, now: datetime, free: dict[tuple[int, int], datetime]
    ) -> Plan:
        """One task and what happened to it until now; `free`: when each slot is free again."""
        rng = self.rng
        assignee = rng.choice([*self.speeds, None, None, None])
        body: dict[str, Any] = {
            "title": rng.choice(TITLES),
            "assignee_id": assignee,
            "due_date": (created + timedelta(days=rng.randint(3, 21))).isoformat(),
            "created_at": created.isoformat(),
        }
        slot = min((key for key in free if assignee in (None, key[0])), key=free.__getitem__)
        worker = slot[0]
        start = working_time(max(created + timedelta(hours=rng.uniform(0.5, 8)), free[slot]))
        done = working_time(start + self.duration(worker, median_days=1.5))
        free[slot] = done
        steps = [(start, {"status": "in_progress", "assignee_id": worker}), (done, DONE)]
        if rng.random() < 0.15:  # reopened: found wanting, reworked
            reopened = working_time(done + timedelta(hours=rng.uniform(2, 72)))
            steps.append((reopened, {"status": "in_progress"}))
            steps.append((working_time(reopened + self.duration(worker, median_days=0.7)), DONE))
        return Plan(body, [(at, change) for at, change in steps if at < now])


def import_task(client: httpx.Client, admin: dict[str, str], *, plan: Plan) -> dict[str, Any]:
    """Create the task as it was created, then apply its changes, each dated when it happened."""
    response = call(client, "POST", "/tasks/", json=plan.body, headers=admin)
    response.raise_for_status()
    task: dict[str, Any] = response.json()
    for at, change in plan.changes:
        body = {**change, "changed_at": at.isoformat()}
        response = call(client, "PATCH", f"/tasks/{task['id']}", json=body, headers=admin)
        response.raise_for_status()
        task = response.json()
    return task


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.seed")
    parser.add_argument("--url", default="http://127.0.0.1:8080/api")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--weeks", type=int, default=10, help="how far back the history goes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    seed(
        args.url,
        tasks=args.tasks,
        weeks=args.weeks,
        rng=random.Random(args.seed),
        auth_settings=AuthSettings(),
    )


if __name__ == "__main__":
    main()
