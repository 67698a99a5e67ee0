"""The web app in a real browser: the Playwright suite of frontend/e2e, driving Debian's
Chromium against the system as `make run` starts it (the app built and served by nginx at /),
after `make seed`'s data generator has filled it (the dashboard's charts need a history).

Runs last in this directory (its name), since the seed adds tasks every other test would see.
The screenshots of the board and the dashboard go to .local/e2e/screenshots, or to
docs/screenshots with UPDATE_SCREENSHOTS=1 (`make screenshots`).
"""

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from scripts.seed import sign_in
from services.auth.config import AuthSettings
from services.auth.manage import create_admin
from tests.e2e.conftest import BASE, GATEWAY, GATEWAY_ROOT, LOCAL, ROOT, System
from tests.proxy import TcpProxy

FRONTEND = ROOT / "frontend"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SEED_TASKS = os.environ.get("E2E_SEED_TASKS", "150")


def _screenshots_dir() -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return LOCAL / "screenshots"


def _seed(system: System) -> None:
    env = {**os.environ, "DATABASE_URL": system.database_url}
    subprocess.run(
        [sys.executable, "-m", "scripts.seed", "--url", GATEWAY, "--tasks", SEED_TASKS],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def _admin(system: System) -> tuple[str, str]:
    password = secrets.token_urlsafe(18)
    settings = AuthSettings(database_url=system.database_url)
    create_admin(
        settings,
        username="web_admin",
        email="web_admin@example.com",
        password=password,
        reset_password=True,
    )
    return "web_admin", password


@contextmanager
def cuttable_gateway() -> Iterator[tuple[str, str]]:
    """The gateway behind a TCP proxy the browser tests can cut (`POST <control>/cut`: every
    connection dropped, new ones refused) and restore (`POST <control>/restore`): the proxy's
    URL and the control's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxy = TcpProxy("127.0.0.1", BASE + 80)
    proxy.port = BASE + 85

    def run(coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)  # type: ignore[arg-type]

    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            actions = {"/cut": proxy.cut, "/restore": proxy.start}
            if self.path not in actions:
                self.send_error(404)
                return
            run(actions[self.path]())
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            """Quiet: the test's output is Playwright's."""

    run(proxy.start())
    control = ThreadingHTTPServer(("127.0.0.1", BASE + 86), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{BASE + 85}", f"http://127.0.0.1:{BASE + 86}"
    finally:
        control.shutdown()
        control.server_close()
        run(proxy.cut())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def _stale_work_in_progress(admin: str, password: str) -> None:
    """One task started three weeks ago and still in progress: the seed's work in progress is
    all recent, and the ageing chart shows only work older than the p85 cycle time."""
    now = datetime.now(UTC)
    with httpx.Client(base_url=GATEWAY, timeout=10) as client:
        headers = sign_in(client, admin, password)
        created = client.post(
            "/tasks/",
            json={
                "title": "Migrate the old archive",
                "created_at": (now - timedelta(days=30)).isoformat(),
            },
            headers=headers,
        )
        created.raise_for_status()
        started = client.patch(
            f"/tasks/{created.json()['id']}",
            json={"status": "in_progress", "changed_at": (now - timedelta(days=21)).isoformat()},
            headers=headers,
        )
        started.raise_for_status()


def test_the_web_app_passes_its_browser_tests(system: System) -> None:
    _seed(system)
    admin, admin_password = _admin(system)
    _stale_work_in_progress(admin, admin_password)
    screenshots = _screenshots_dir()
    screenshots.mkdir(parents=True, exist_ok=True)
    with cuttable_gateway() as (proxy_url, control_url):
        result = _playwright(admin, admin_password, screenshots, proxy_url, control_url)

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert (screenshots / "board.png").stat().st_size > 10_000
    assert (screenshots / "dashboard.png").stat().st_size > 10_000


def _playwright(
    admin: str, admin_password: str, screenshots: Path, proxy_url: str, control_url: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "APP_URL": GATEWAY_ROOT,
        "CHROMIUM": CHROMIUM,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "ADMIN_USER": admin,
        "ADMIN_PASSWORD": admin_password,
        "SCREENSHOTS_DIR": str(screenshots),
        "PROXY_URL": proxy_url,
        "PROXY_CONTROL_URL": control_url,
    }
    return subprocess.run(
        ["npx", "--no-install", "playwright", "test"],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
