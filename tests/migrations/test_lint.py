"""The migration linter: squawk on the SQL each revision emits, with every exception written
down in `squawk-allowed.toml` (docs/migrations.md)."""

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from shared.core.migrations import alembic_config, upgrade_sql

ROOT = Path(__file__).parents[2]
SERVICES = ("auth", "tasks", "logs", "kpi")
ALLOWED = tomllib.loads((Path(__file__).parent / "squawk-allowed.toml").read_text())
SQUAWK = Path(sys.executable).parent / "squawk"
URL = "postgresql+psycopg2://offline@localhost/offline"  # never connected to: --sql mode


def revisions(service: str) -> list[tuple[str, str]]:
    """The service's revisions, oldest first: (the one before or `base`, the revision)."""
    script = ScriptDirectory.from_config(alembic_config(ROOT / "services" / service, URL))
    return [
        (revision.down_revision or "base", revision.revision)  # type: ignore[misc]
        for revision in reversed(list(script.walk_revisions()))
    ]


def findings(sql_file: Path) -> Counter[str]:
    """How many times squawk flags each rule in `sql_file`, less the rules off everywhere."""
    result = subprocess.run(
        [str(SQUAWK), "--reporter", "json", "--pg-version", "15", str(sql_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: it found something
    rules = Counter(finding["rule_name"] for finding in json.loads(result.stdout or "[]"))
    return Counter({rule: n for rule, n in rules.items() if rule not in ALLOWED["rules"]})


def allowed(service: str, revision: str) -> Counter[str]:
    entries = ALLOWED["revisions"].get(f"{service} {revision}", {})
    return Counter({rule: count for rule, (count, _why) in entries.items()})


@pytest.mark.parametrize("service", SERVICES)
def test_every_revision_passes_the_linter_or_its_exceptions_are_written_down(
    service: str, tmp_path: Path
) -> None:
    for before, revision in revisions(service):
        sql = upgrade_sql(ROOT / "services" / service, URL, f"{before}:{revision}")
        sql_file = tmp_path / f"{service}_{revision}.sql"
        sql_file.write_text(sql)
        assert findings(sql_file) == allowed(service, revision), f"{service} {revision}:\n{sql}"


def test_the_exceptions_name_real_revisions_and_say_why() -> None:
    known = {f"{service} {revision}" for service in SERVICES for _, revision in revisions(service)}
    assert set(ALLOWED["revisions"]) <= known
    for entries in ALLOWED["revisions"].values():
        for count, why in entries.values():
            assert count > 0
            assert len(why) > 20


def test_the_linter_catches_a_blocking_migration(tmp_path: Path) -> None:
    sql_file = tmp_path / "blocking.sql"
    sql_file.write_text("ALTER TABLE kpi.task_flow ALTER COLUMN created_at SET NOT NULL;\n")
    assert findings(sql_file)["adding-not-nullable-field"] == 1
