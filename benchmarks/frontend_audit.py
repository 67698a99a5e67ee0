"""`make frontend-audit` (and the last step of `make bench`): the web app's targets.

Starts the system as `make run` does (the bench's database, vhost and ports: benchmarks.system),
fills it with `make seed`'s data, then runs frontend/scripts/audit.mjs in Debian's Chromium: the
first route's JavaScript (gzip), the dashboard's charts drawn after navigation (performance
marks) and Lighthouse on the board and the dashboard. Prints its lines; exits 1 on a miss.
"""

import os
import shutil
import subprocess
import sys

from benchmarks.system import (
    GATEWAY_PORT,
    LOCAL,
    NAME,
    SYSTEM_API,
    fresh_vhost,
    process_group,
    system_env,
    wait_until,
)
from conftest import DEFAULT_TEST_DATABASE_URL, fresh_database

ROOT = LOCAL.parents[1]
SEED = ["alice", "demo-password"]  # a user of scripts/seed.py, and its password


def main() -> None:
    """Start, seed, audit, stop."""
    database_url = fresh_database(
        os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL), NAME
    )
    LOCAL.mkdir(parents=True, exist_ok=True)
    fresh_vhost()
    subprocess.run(["make", "--no-print-directory", "frontend"], cwd=ROOT, check=True)
    log = LOCAL / "frontend-audit-system.log"
    env = system_env(database_url)
    with process_group(["make", "--no-print-directory", "run"], env=env, log=log):
        probes = ["/healthz", "/auth/.well-known/jwks.json", "/tasks/docs", "/kpi/docs"]
        wait_until([(SYSTEM_API + probe, 200) for probe in probes], log=log, seconds=240)
        subprocess.run(
            [sys.executable, "-m", "scripts.seed", "--url", SYSTEM_API],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        audit = subprocess.run(
            [
                shutil.which("node") or "node",
                "scripts/audit.mjs",
                f"--url=http://127.0.0.1:{GATEWAY_PORT}",
                f"--user={SEED[0]}",
                f"--password={SEED[1]}",
                f"--port={GATEWAY_PORT + 7}",  # Chromium's debugging port, in the bench's range
            ],
            cwd=ROOT / "frontend",
            check=False,
        )
    sys.exit(audit.returncode)


if __name__ == "__main__":
    main()
