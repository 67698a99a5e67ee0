"""Fuzzing every service through the real gateway with schemathesis, signed in.

Each operation of each published document (as the gateway serves it) gets generated requests,
valid and invalid, and every answer goes through every check schemathesis has: no 5xx, a
status the document lists, its content type, schema and headers, invalid data refused, valid
data accepted, missing auth refused, an undeclared method answered 405 with `Allow`. A
stateful run then follows the documents' links: create a task, then read, update and delete it.

Some rules of the API cannot be written in OpenAPI: `year` needs `month`, a `cursor` is a
signed token, `from` <= `to`, an assignee must exist, `created_at` and `changed_at` are for
admins, a `page` reaches 1000 rows, an email's domain must be able to receive mail.
`_valid_for_the_api` teaches the generator those rules for the cases it means to be valid, so
that "valid data accepted" stays a check and does not report rules the document cannot state.
Every answer is still checked in full. Examples are bounded (`EXAMPLES`), so this stays under
two minutes.
"""

from datetime import date
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import Case, GenerationMode, HookContext

from services.kpi.flow_schemas import MAX_WINDOW_DAYS
from shared.web.pagination import MAX_OFFSET
from tests.e2e.conftest import GATEWAY, System
from tests.e2e.test_system import client_address, new_user

SERVICES = ("auth", "tasks", "logs", "kpi")
EXAMPLES = 20
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a noisy shared machine: time is not what is tested here
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure is reproducible
)
# A valid request may still meet the resource in another state: `If-Match` naming another
# version is a 412 (as a 409 is, which schemathesis already expects of valid data).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]


@pytest.fixture(scope="module")
def fuzzer(system: System) -> tuple[int, dict[str, str]]:
    """A signed-in user of the fuzzer's own, acting from an address of its own."""
    with httpx.Client(base_url=GATEWAY, timeout=10) as api:
        user_id, headers = new_user(api)
    return user_id, {**headers, "X-Forwarded-For": client_address()}


def _month_pair(query: dict[str, Any]) -> None:
    if ("year" in query) != ("month" in query):
        query.pop("year", None)
        query.pop("month", None)


def _span(query: dict[str, Any]) -> None:
    """`from` <= `to`, and at most 120 months (the trend) or 366 days (a flow window) apart."""
    if "from" in query and "to" in query:
        if query["to"] < query["from"]:
            query["from"], query["to"] = query["to"], query["from"]
        if len(query["from"]) == len("YYYY-MM-DD"):
            days = date.fromisoformat(query["to"]) - date.fromisoformat(query["from"])
            too_long = days.days >= MAX_WINDOW_DAYS
        else:
            first, last = (
                int(query[name][:4]) * 12 + int(query[name][5:]) for name in ("from", "to")
            )
            too_long = last - first >= 120
        if too_long:
            query["to"] = query["from"]


def _valid_for_the_api(user_id: int) -> Any:
    """A `map_case` hook: make a case meant to be valid obey the rules OpenAPI cannot state."""

    def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
        if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
            return case
        if isinstance(case.query, dict):
            case.query.pop("cursor", None)  # a signed token: only one the API gave is valid
            _month_pair(case.query)
            _span(case.query)
            page_size = int(case.query.get("page_size", 50))
            if (int(case.query.get("page", 1)) - 1) * page_size > MAX_OFFSET:
                case.query["page"] = 1
        if isinstance(case.body, dict):
            email = case.body.get("email")
            if isinstance(email, str) and "@" in email:
                # Special-use domains (RFC 6761: .test, .localhost, ...) receive no mail.
                case.body["email"] = email.rsplit("@", 1)[0] + "@example.com"
            if case.body.get("assignee_id") is not None:
                case.body["assignee_id"] = user_id  # someone who exists
            case.body.pop("created_at", None)  # importing history: admins only, not the future
            case.body.pop("completed_at", None)
            case.body.pop("changed_at", None)  # importing a change: the same
        return case

    return map_case


def _schema(service: str, user_id: int) -> Any:
    schema = schemathesis.openapi.from_url(f"{GATEWAY}/{service}/openapi.json")
    schema.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED
    schema.hook(_valid_for_the_api(user_id))
    return schema


@pytest.fixture(scope="module", params=SERVICES)
def published(request: pytest.FixtureRequest, fuzzer: tuple[int, dict[str, str]]) -> Any:
    """A service's document, as the gateway serves it."""
    return _schema(request.param, fuzzer[0])


lazy = schemathesis.pytest.from_fixture("published")


@lazy.parametrize()
@FUZZ_SETTINGS
def test_every_answer_is_what_the_document_says(
    case: Case[Any], fuzzer: tuple[int, dict[str, str]]
) -> None:
    case.call_and_validate(headers=fuzzer[1])


def test_a_task_created_can_be_read_updated_and_deleted_by_its_links(
    fuzzer: tuple[int, dict[str, str]],
) -> None:
    machine = _schema("tasks", fuzzer[0]).as_state_machine()
    headers = fuzzer[1]

    class TaskWorkflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": headers}

    run_state_machine_as_test(
        TaskWorkflow,
        settings=settings(FUZZ_SETTINGS, max_examples=10, stateful_step_count=6, derandomize=True),
    )
