"""`make seed`: fill a running system with a realistic demo data set, through the gateway.

A few users, a few hundred tasks over the past twelve months (imported with their history by
an admin), then updates, completions and deletions made now by their users, so the activity
log and every KPI have something to show. The admin `demo_admin` is created with the auth
service's own deploy-time command (the only way an admin ever comes to be), with a new random
password each run, and the seed refuses to run if someone registered that name as a user;
everything else goes through the public API. Running it twice adds another batch of tasks.
"""

import argparse
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.auth.config import AuthSettings
from services.auth.manage import create_admin

USERS = ["alice", "bob", "carol", "dave", "erin"]
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


def seed(url: str, *, tasks: int, rng: random.Random, auth_settings: AuthSettings) -> None:
    """Create the demo users and `tasks` tasks, then change some of them now."""
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
        created = [import_task(client, admin, assignees=list(by_id), rng=rng) for _ in range(tasks)]
        open_tasks = [task for task in created if task["status"] != "done"]
        for task in rng.sample(open_tasks, k=min(40, len(open_tasks))):
            actor = by_id.get(task["assignee_id"], admin)  # the assignee, if there is one
            status = rng.choice(["in_progress", "done"])
            call(client, "PATCH", f"/tasks/{task['id']}", json={"status": status}, headers=actor)
        for task in rng.sample(created, k=min(10, len(created))):
            call(client, "DELETE", f"/tasks/{task['id']}", headers=admin)
    print(f"seeded {len(USERS)} users (password {PASSWORD!r}) and {tasks} tasks at {url}")


def import_task(
    client: httpx.Client, admin: dict[str, str], *, assignees: list[int], rng: random.Random
) -> dict[str, Any]:
    """One task from the past year, imported by the admin with its own history."""
    now = datetime.now(UTC)
    created_at = now - timedelta(days=rng.uniform(0, 365))
    status = rng.choices(["todo", "in_progress", "done"], weights=[3, 2, 5])[0]
    body: dict[str, Any] = {
        "title": rng.choice(TITLES),
        "status": status,
        "assignee_id": rng.choice([*assignees, None]),
        "due_date": (created_at + timedelta(days=rng.randint(1, 30))).isoformat(),
        "created_at": created_at.isoformat(),
    }
    if status == "done":
        done_at = min(created_at + timedelta(hours=rng.uniform(1, 24 * 20)), now)
        body["completed_at"] = done_at.isoformat()
    response = call(client, "POST", "/tasks/", json=body, headers=admin)
    response.raise_for_status()
    task: dict[str, Any] = response.json()
    return task


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.seed")
    parser.add_argument("--url", default="http://127.0.0.1:8080/api")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    seed(args.url, tasks=args.tasks, rng=random.Random(args.seed), auth_settings=AuthSettings())


if __name__ == "__main__":
    main()
