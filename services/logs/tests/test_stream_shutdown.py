"""SIGTERM with open streams: uvicorn waits for open responses before it stops, and a stream
never ends by itself, so the logs process ends its streams as soon as the signal comes."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.logs.config import LogsSettings
from tests.sse import events, free_port, served
from tests.tokens import TestSigner

ROOT = Path(__file__).parents[3]
GRACEFUL_SECONDS = 30  # uvicorn cancels what is still open after this, and says so


@pytest.fixture
def jwks_url(signer: TestSigner) -> Iterator[str]:
    """auth's key set, as the process fetches it."""
    keys = signer.jwks()
    app = Starlette(routes=[Route("/jwks.json", lambda _: JSONResponse(keys))])
    with served(app) as url:
        yield f"{url}/jwks.json"


def start_logs_process(
    settings: LogsSettings, jwks_url: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "AUTH_JWKS_URL": jwks_url,
        "METRICS_PORT": "0",
        "LOG_JSON": "false",
    }
    command = [
        sys.executable, "-m", "uvicorn", "services.logs.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--timeout-graceful-shutdown", str(GRACEFUL_SECONDS),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)


def test_sigterm_ends_open_streams_within_the_graceful_timeout(
    settings: LogsSettings, committed: None, signer: TestSigner, jwks_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "logs.log"
    process, url = start_logs_process(settings, jwks_url, log)
    try:
        with ExitStack() as stack:
            client = stack.enter_context(
                httpx.Client(base_url=url, headers=signer.headers(7), timeout=GRACEFUL_SECONDS * 2)
            )
            streams = [
                stack.enter_context(client.stream("GET", "/logs/stream", params={"task_id": n}))
                for n in range(1, 4)
            ]
            assert [s.status_code for s in streams] == [200] * 3, [s.read() for s in streams]
            process.send_signal(signal.SIGTERM)
            leftovers = [list(events(stream)) for stream in streams]  # each ends
        process.wait(timeout=GRACEFUL_SECONDS * 2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    output = log.read_text()
    assert leftovers == [[], [], []]
    assert "graceful shutdown exceeded" not in output, output
    assert "Finished server process" in output, output
