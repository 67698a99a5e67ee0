"""The gateway alone: the real nginx with the rendered template, in front of a stub upstream.

Each gateway and the stub listen on free ports of their own, so these tests share nothing
with `make run` or the end-to-end system.
"""

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.render import write_config

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIG = {"items": [{"id": n, "title": f"task number {n}", "status": "todo"} for n in range(100)]}
Send = Callable[[dict[str, Any]], Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answer(path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """What the stub services answer: JSON big and small, a docs page, a 429 of their own."""
    json_type = (b"content-type", b"application/json")
    if path == "/tasks/big":
        return 200, [json_type], json.dumps(BIG).encode()
    if path in ("/tasks/7", "/tasks/"):  # one task, big, with its version as a strong ETag
        return 200, [json_type, (b"etag", b'"7"')], json.dumps(BIG).encode()
    if path == "/tasks/docs":
        return 200, [(b"content-type", b"text/html")], b"<html><body>docs</body></html>"
    if path == "/auth/limited":
        return 429, [json_type, (b"retry-after", b"7")], b'{"code":"too_many_attempts"}'
    if path in ("/auth/login", "/auth/register", "/tasks/small"):
        return 200, [json_type], b'{"ok":true}'
    return 404, [json_type], b'{"code":"not_found"}'


# The stub's event stream (`/logs/stream`) sends its next event once the test sets the first,
# and ends once it sets the second; it sends no X-Accel-Buffering, so only the gateway's own
# configuration keeps events from being held back.
STREAM_STEPS = (threading.Event(), threading.Event())


async def stream_stub(send: Send) -> None:
    """An event, then another once the test says so, then the end once it says so."""
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for number, step in enumerate(STREAM_STEPS, start=1):
        body = f'event: activity\ndata: {{"id": {number}}}\nid: 0000000a-{number}\n\n'
        await send({"type": "http.response.body", "body": body.encode(), "more_body": True})
        await asyncio.to_thread(step.wait, 30)
    await send({"type": "http.response.body", "body": b""})


async def stub(scope: dict[str, Any], receive: Callable[[], Any], send: Send) -> None:
    """A raw ASGI app standing in for the four services."""
    while (await receive()).get("more_body"):
        pass
    if scope["path"] == "/logs/stream":
        await stream_stub(send)
        return
    if scope["path"] in ("/auth/headers", "/tasks/headers"):  # what the service was sent
        received = {name.decode(): value.decode() for name, value in scope["headers"]}
        status, headers, body = (
            200,
            [(b"content-type", b"application/json")],
            json.dumps(received).encode(),
        )
    else:
        status, headers, body = _answer(scope["path"])
    headers = [*headers, (b"content-length", str(len(body)).encode())]  # as the services do
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    """The stub, served by uvicorn in a thread: its host:port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(stub, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the stub upstream did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def start_gateway(
    directory: Path, upstream: str, app_root: Path | None = None, **values: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """Render the template into `directory` and run nginx on it: its /api base URL."""
    port = free_port()
    write_config(
        directory,
        {
            "GATEWAY_PORT": str(port),
            "AUTH_UPSTREAM": upstream,
            "TASKS_UPSTREAM": upstream,
            "LOGS_UPSTREAM": upstream,
            "KPI_UPSTREAM": f"127.0.0.1:{free_port()}",  # nobody listens: a 502
            "HOOKS_UPSTREAM": f"127.0.0.1:{free_port()}",
            **values,
        },
        **({"app_root": app_root} if app_root else {}),
    )
    with (directory / "error.log").open("wb") as errors:
        process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", "nginx.conf"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    base = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base, process
        except httpx.HTTPError:
            pass
        assert process.poll() is None, (directory / "error.log").read_text()
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.05)


APP_INDEX = (
    '<!doctype html><title>app</title><script type="module" src="/assets/index-3f9a1c.js"></script>'
)
APP_SCRIPT = "console.log('the app');\n" * 200  # above gzip's 1 KiB


def built_app(directory: Path) -> Path:
    """A stand-in for `frontend/dist`: index.html and one hashed script, readable by nginx's
    workers (which run as an unprivileged user when the tests run as root)."""
    (directory / "assets").mkdir(mode=0o755, parents=True)
    (directory / "index.html").write_text(APP_INDEX)
    (directory / "assets" / "index-3f9a1c.js").write_text(APP_SCRIPT)
    return directory


@pytest.fixture(scope="session")
def gateways(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two gateways: with the default settings (and a built app), and with CORS origins and
    TLS configured."""
    # nginx's workers must reach the app through the prefix directory: both in a temporary
    # directory they may enter (pytest's own are private to the user running the tests).
    app_directory = tempfile.TemporaryDirectory(prefix="gateway-app-")
    shared = Path(app_directory.name)
    shared.chmod(0o755)
    started = {
        "default": start_gateway(shared / "prefix", upstream, app_root=built_app(shared / "app")),
        "configured": start_gateway(
            tmp_path_factory.mktemp("configured"),
            upstream,
            CORS_ALLOWED_ORIGINS="http://localhost:5173, https://app.example.com",
            GATEWAY_TLS="on",
        ),
    }
    yield {name: base for name, (base, _) in started.items()}
    for _, process in started.values():
        process.terminate()
        process.wait(timeout=10)
    app_directory.cleanup()
