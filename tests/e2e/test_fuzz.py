"""Fuzzing every service through the real gateway (schemathesis), signed in.

Each operation of each published document (as the gateway serves it) gets generated requests,
valid and invalid, and every answer must pass every check schemathesis has: no 5xx, a status
the document lists, its content type, schema and headers, invalid data refused, missing auth
refused. The examples are bounded, so this stays within a minute or two.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import GATEWAY, System
from tests.e2e.test_system import client_address, new_user

SERVICES = ("auth", "tasks", "logs", "kpi")
EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_headers(system: System) -> dict[str, str]:
    """A signed-in user of the fuzzer's own, acting from an address of its own."""
    import httpx

    with httpx.Client(base_url=GATEWAY, timeout=10) as api:
        _, headers = new_user(api)
    return {**headers, "X-Forwarded-For": client_address()}


@pytest.fixture(scope="module", params=SERVICES)
def published(request: pytest.FixtureRequest, system: System) -> Iterator[Any]:
    """A service's document, as the gateway serves it."""
    yield schemathesis.openapi.from_url(f"{GATEWAY}/{request.param}/openapi.json")


schema = schemathesis.pytest.from_fixture("published")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_what_the_document_says(case: Any, fuzz_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=fuzz_headers)
