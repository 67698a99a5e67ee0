"""The web app in a real browser: the Playwright suite of frontend/e2e, driving Debian's
Chromium against the system as `make run` starts it (the app built and served by nginx at /),
after `make seed`'s data generator has filled it (the dashboard's charts need a history).

Runs last in this directory (its name), since the seed adds tasks every other test would see.
The screenshots of the board and the dashboard go to .local/e2e/screenshots, or to
docs/screenshots with UPDATE_SCREENSHOTS=1 (`make screenshots`).
"""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from services.auth.config import AuthSettings
from services.auth.manage import create_admin
from tests.e2e.conftest import GATEWAY, GATEWAY_ROOT, LOCAL, ROOT, System

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


def test_the_web_app_passes_its_browser_tests(system: System) -> None:
    _seed(system)
    admin, admin_password = _admin(system)
    screenshots = _screenshots_dir()
    screenshots.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "APP_URL": GATEWAY_ROOT,
        "CHROMIUM": CHROMIUM,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "ADMIN_USER": admin,
        "ADMIN_PASSWORD": admin_password,
        "SCREENSHOTS_DIR": str(screenshots),
    }

    result = subprocess.run(
        ["npx", "--no-install", "playwright", "test"],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert (screenshots / "board.png").stat().st_size > 10_000
    assert (screenshots / "dashboard.png").stat().st_size > 10_000
