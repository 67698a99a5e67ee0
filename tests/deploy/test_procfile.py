"""The Procfile `make run` starts, checked statically."""

import re

import pytest

from tests.deploy.settings_vars import OWN_DEFAULTS, ROOT, same_setting

# `NAME=${MAKE_RUN_NAME:-default}` or `NAME=value`, before a process's command.
ASSIGNMENT = re.compile(r"([A-Z][A-Z0-9_]*)=(?:\$\{[A-Z0-9_]+:-([^}]*)\}|(\S+))")


def _processes() -> dict[str, dict[str, str]]:
    """Each process: the settings its line assigns, with the value they get when unset."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        assigned = {}
        for word in command.split():
            match = ASSIGNMENT.fullmatch(word)
            if match is None:
                break  # the command itself
            assigned[match[1]] = match[2] if match[2] is not None else match[3]
        processes[name] = assigned
    return processes


PROCESSES = _processes()


@pytest.mark.parametrize(
    ("service", "process"),
    [(s, p) for s in OWN_DEFAULTS for p in PROCESSES if p == f"{s}-consumer" and OWN_DEFAULTS[s]],
)
def test_a_consumer_keeps_the_settings_its_service_defaults_otherwise(
    service: str, process: str
) -> None:
    """A local `.env` (a copy of `.env.example`) gives every process the common value: the
    process's own line must win."""
    for name, default in OWN_DEFAULTS[service].items():
        assert name in PROCESSES[process], name
        assert same_setting(PROCESSES[process][name], default), (name, PROCESSES[process][name])
