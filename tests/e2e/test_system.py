"""The whole system through the gateway, driven as the Vue front end drives it."""

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scripts.seed import seed
from services.auth.config import AuthSettings
from tests.e2e.conftest import GATEWAY, GATEWAY_ROOT, System

PROTECTED = [
    "/auth/me",
    "/tasks/",
    "/logs/",
    "/kpi/completion-rate",
    "/kpi/by-user",
    "/kpi/monthly",
    "/kpi/trend?from=2025-01&to=2025-02",
]


def eventually(check: Callable[[], Any], *, within: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "the system did not get there in time"
        time.sleep(0.1)


def post_credentials(
    api: httpx.Client, path: str, body: dict[str, str], *, address: str | None = None
) -> httpx.Response:
    """Login and register are rate-limited: wait as `Retry-After` says."""
    headers = {"X-Forwarded-For": address} if address else {}
    while (response := api.post(path, json=body, headers=headers)).status_code == 429:
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def client_address() -> str:
    """An address of a test's own (the gateway trusts the tests' X-Forwarded-For)."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def new_user(api: httpx.Client) -> tuple[int, dict[str, str]]:
    """Register and log in a fresh user, from an address of its own; its id and auth headers."""
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    body = {"username": name, "email": f"{name}@example.com", "password": "e2e-password"}
    address = client_address()
    registered = post_credentials(api, "/auth/register", body, address=address)
    assert registered.status_code == 201, registered.text
    tokens = post_credentials(
        api, "/auth/login", {"username": name, "password": "e2e-password"}, address=address
    )
    assert tokens.status_code == 200, tokens.text
    return registered.json()["id"], {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def this_month() -> dict[str, int]:
    now = datetime.now(UTC)
    return {"year": now.year, "month": now.month}


def test_gateway_health_and_request_ids(api: httpx.Client, system: System) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    generated = api.get("/healthz").headers["X-Request-ID"]
    assert len(generated) >= 16

    traced = api.get("/auth/.well-known/jwks.json", headers={"X-Request-ID": "e2e-trace-42"})

    assert traced.headers["X-Request-ID"] == "e2e-trace-42"

    def traced_lines(log: Path) -> list[str]:
        return [line for line in log.read_text().splitlines() if "e2e-trace-42" in line]

    # The gateway (in its access log, at most a second late) and the auth service (in what
    # `make run` prints) each log the request with the client's ID.
    eventually(lambda: any('"service": "auth"' in line for line in traced_lines(system.log)))
    eventually(
        lambda: any('"service":"gateway"' in line for line in traced_lines(system.gateway_log))
    )


def test_register_login_refresh_and_me(api: httpx.Client) -> None:
    user_id, headers = new_user(api)

    me = api.get("/auth/me", headers=headers)

    assert me.status_code == 200
    assert me.json()["id"] == user_id
    assert me.json()["role"] == "user"


def test_task_lifecycle_is_logged_once_per_write_and_counted(api: httpx.Client) -> None:
    creator_id, creator = new_user(api)
    assignee_id, assignee = new_user(api)

    first = api.post(
        "/tasks/", headers=creator, json={"title": "Draft", "assignee_id": assignee_id}
    ).json()
    second = api.post(
        "/tasks/", headers=creator, json={"title": "Review", "assignee_id": assignee_id}
    ).json()
    doomed = api.post("/tasks/", headers=creator, json={"title": "Doomed"}).json()
    done = api.patch(f"/tasks/{first['id']}", headers=assignee, json={"status": "done"})
    renamed = api.put(f"/tasks/{second['id']}", headers=creator, json={"title": "Review v2"})
    deleted = api.delete(f"/tasks/{doomed['id']}", headers=creator)
    assert (done.status_code, renamed.status_code, deleted.status_code) == (200, 200, 204)

    listed = api.get(
        "/tasks/", headers=creator, params={**this_month(), "creator_id": creator_id}
    ).json()
    assert sorted(task["title"] for task in listed["items"]) == ["Draft", "Review v2"]

    def task_log(task_id: int) -> list[dict[str, Any]]:
        page = api.get("/logs/", headers=creator, params={"task_id": task_id}).json()
        items: list[dict[str, Any]] = page["items"]
        return items

    first_log = eventually(lambda: len(task_log(first["id"])) == 2 and task_log(first["id"]))
    assert [e["action_type"] for e in first_log] == ["task_updated", "task_created"]
    assert first_log[0]["detail"] == "Status changed to done"
    assert first_log[0]["user_id"] == assignee_id
    second_log = eventually(lambda: len(task_log(second["id"])) == 2 and task_log(second["id"]))
    assert second_log[0]["detail"] == 'Title changed from "Review" to "Review v2"'
    doomed_log = eventually(lambda: len(task_log(doomed["id"])) == 2 and task_log(doomed["id"]))
    assert [e["action_type"] for e in doomed_log] == ["task_deleted", "task_created"]

    def my_row() -> dict[str, Any] | None:
        rows = api.get("/kpi/by-user", headers=creator, params=this_month()).json()["items"]
        return next((row for row in rows if row["assignee_id"] == assignee_id), None)

    # The KPI consumer may apply the creates and the update in separate batches: wait for both.
    row = eventually(lambda: (r := my_row()) is not None and r["total"] == 2 and r["done"] and r)
    assert (row["done"], row["todo"], row["in_progress"]) == (1, 1, 0)
    assert row["completion_rate"] == 0.5
    assert row["username"].startswith("e2e_")

    month_tasks = _all_tasks_this_month(api, creator)
    expected_total = len(month_tasks)
    expected_done = sum(task["status"] == "done" for task in month_tasks)

    def rate_matches() -> dict[str, Any] | None:
        rate: dict[str, Any] = api.get(
            "/kpi/completion-rate", headers=creator, params=this_month()
        ).json()
        ok = (rate["total_tasks"], rate["completed_tasks"]) == (expected_total, expected_done)
        return rate if ok else None

    rate = eventually(rate_matches)
    assert (
        rate["completion_rate"] == round(expected_done / expected_total, 4)
        or abs(rate["completion_rate"] - expected_done / expected_total) < 1e-9
    )
    monthly = api.get("/kpi/monthly", headers=creator, params=this_month()).json()
    assert monthly["total"] == expected_total
    assert monthly["done"] == expected_done
    month = this_month()
    key = f"{month['year']:04d}-{month['month']:02d}"
    trend = api.get("/kpi/trend", headers=creator, params={"from": key, "to": key}).json()
    assert trend["items"][0]["total"] == expected_total
    # Exactly one entry per write: by now no second copy of any event has arrived.
    assert [len(task_log(task["id"])) for task in (first, second, doomed)] == [2, 2, 2]


def _all_tasks_this_month(api: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        body = api.get(
            "/tasks/", headers=headers, params={**this_month(), "page": page, "page_size": 200}
        ).json()
        tasks += body["items"]
        page = body["next_page"]
    return tasks


def test_another_user_cannot_change_or_delete_my_task(api: httpx.Client) -> None:
    _, owner = new_user(api)
    _, stranger = new_user(api)
    task = api.post("/tasks/", headers=owner, json={"title": "Mine"}).json()

    update = api.patch(f"/tasks/{task['id']}", headers=stranger, json={"title": "Theirs"})
    delete = api.delete(f"/tasks/{task['id']}", headers=stranger)

    assert (update.status_code, delete.status_code) == (403, 403)
    assert update.json()["code"] == "forbidden"
    assert api.get(f"/tasks/{task['id']}", headers=owner).json()["title"] == "Mine"


def _foreign_token(expired: bool = False) -> str:
    now = datetime.now(UTC) - (timedelta(hours=2) if expired else timedelta())
    claims = {
        "sub": "1",
        "role": "admin",
        "iss": "efficient-system-auth",
        "aud": "efficient-system",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=15)).timestamp()),
    }
    return jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "forged"}
    )


def test_forged_and_expired_tokens_are_refused_everywhere(api: httpx.Client) -> None:
    _, headers = new_user(api)
    real_token = headers["Authorization"].removeprefix("Bearer ")
    header = jwt.get_unverified_header(real_token)
    claims = jwt.decode(real_token, options={"verify_signature": False})
    stale = {**claims, "exp": claims["iat"] - 1}
    expired_real_kid = jwt.encode(
        stale, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": header["kid"]}
    )

    for token in (_foreign_token(), _foreign_token(expired=True), expired_real_kid, "garbage"):
        for path in PROTECTED:
            response = api.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (path, response.text)
            assert response.json()["code"] in {"invalid_token", "token_expired"}
    for path in PROTECTED:
        assert api.get(path, headers=headers).status_code == 200, path


def test_docs_of_every_service_work_through_the_gateway(api: httpx.Client) -> None:
    for service in ("auth", "tasks", "logs", "kpi"):
        page = api.get(f"/{service}/docs")
        schema = api.get(f"/{service}/openapi.json").json()

        assert page.status_code == 200
        assert f"/api/{service}/openapi.json" in page.text
        assert schema["servers"] == [{"url": "/api"}]


def test_urls_the_services_make_point_back_through_the_gateway(api: httpx.Client) -> None:
    _, headers = new_user(api)

    redirect = api.get("/tasks/5/", follow_redirects=False)
    created = api.post("/tasks/", headers=headers, json={"title": "Where am I?"})

    assert redirect.headers["Location"] == f"{GATEWAY}/tasks/5"
    assert created.headers["Location"] == f"/api/tasks/{created.json()['id']}"
    assert (
        api.get(created.headers["Location"].removeprefix("/api"), headers=headers).json()["title"]
        == "Where am I?"
    )


def test_oversized_body_is_413_from_the_gateway(api: httpx.Client) -> None:
    _, headers = new_user(api)

    response = api.post(
        "/tasks/",
        headers={**headers, "Content-Type": "application/json"},
        content=b"x" * (1024 * 1024 + 1),
    )

    assert response.status_code == 413
    assert response.headers["Server"] == "nginx"
    assert response.json()["code"] == "content_too_large"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_oversized_urls_and_headers_are_json_errors_from_the_gateway(api: httpx.Client) -> None:
    long_url = api.get("/tasks/", params={"q": "x" * 10_000})
    big_cookie = api.get("/tasks/", headers={"Cookie": "c=" + "x" * 20_000})

    assert (long_url.status_code, long_url.json()["code"]) == (414, "uri_too_long")
    assert (big_cookie.status_code, big_cookie.json()["code"]) == (431, "headers_too_large")


def test_unknown_paths_are_json_404s(api: httpx.Client) -> None:
    response = httpx.get(f"{GATEWAY_ROOT}/api/not-a-service")  # `/` and the rest: the web app

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_seed_builds_a_team_history_the_flow_metrics_show(
    api: httpx.Client, system: System
) -> None:
    settings = AuthSettings(_env_file=None, database_url=system.database_url)
    seed(GATEWAY, tasks=30, weeks=6, rng=random.Random(3), auth_settings=settings)
    _, headers = new_user(api)
    # Up to yesterday: the seeded history, not what other tests do to this system today.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    window = {"from": (yesterday - timedelta(weeks=6)).isoformat(), "to": yesterday.isoformat()}

    def completions() -> list[dict[str, Any]] | None:
        query = {**window, "page_size": "200"}
        items: list[dict[str, Any]]
        items = api.get("/kpi/flow/completions", headers=headers, params=query).json()["items"]
        return items if len(items) >= 12 else None

    done = eventually(completions, within=30)
    cycles = [item["cycle_seconds"] for item in done]
    assert min(cycles) > 0
    assert max(cycles) > 3 * min(cycles)  # varied speeds
    weeks = {datetime.fromisoformat(item["completed_at"]).isocalendar()[:2] for item in done}
    assert len(weeks) >= 3  # completed over the weeks, when it happened, not today
    flow = api.get("/kpi/flow/cumulative", headers=headers, params=window).json()["items"]
    middle, last = flow[len(flow) // 2], flow[-1]
    assert 0 < middle["done"] < last["done"]
    assert any(day["in_progress"] for day in flow)
    first = done[0]  # its activity log dates each change when it happened
    logs = api.get("/logs/", headers=headers, params={"task_id": first["task_id"]}).json()
    assert len(logs["items"]) >= 3  # created, started, completed
    assert logs["items"][0]["created_at"] == first["completed_at"]
