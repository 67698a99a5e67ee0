"""The live activity stream of the running system, through the real gateway: a task written
through the API reaches an open stream, and a reconnect with Last-Event-ID resumes after it."""

import httpx

from tests.e2e.conftest import GATEWAY
from tests.e2e.test_system import new_user
from tests.sse import events


def test_a_task_write_reaches_an_open_stream_and_a_resume_continues_after_it(
    api: httpx.Client,
) -> None:
    user_id, headers = new_user(api)
    mine = {"user_id": user_id}  # this test's entries only
    with httpx.Client(base_url=GATEWAY, headers=headers, timeout=30) as client:
        with client.stream("GET", "/logs/stream", params=mine) as response:
            assert response.status_code == 200
            stream = events(response)
            posted = client.post("/tasks/", json={"title": "Seen live"})
            task = posted.json()
            created = next(stream)  # the response is still open: it came as it was committed
        etag = {"If-Match": posted.headers["ETag"]}
        client.patch(f"/tasks/{task['id']}", json={"status": "done"}, headers=etag)
        resume = {"Last-Event-ID": created.id or ""}
        with client.stream("GET", "/logs/stream", params=mine, headers=resume) as response:
            updated = next(events(response))

    assert created.event == "activity"
    assert (created.json()["task_id"], created.json()["action_type"]) == (
        task["id"],
        "task_created",
    )
    assert (updated.json()["task_id"], updated.json()["action_type"]) == (
        task["id"],
        "task_updated",
    )
