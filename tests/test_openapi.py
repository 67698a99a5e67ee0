"""The published OpenAPI documents: committed, current, and following the conventions that a
client generator relies on (`shared/web/openapi.py`)."""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from scripts.openapi import OUT_DIR, SERVICES, document
from shared.core.version import VERSION
from shared.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return {service: document(service) for service in SERVICES}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_document_is_the_codes(documents: dict[str, str], service: str) -> None:
    committed = (OUT_DIR / f"{service}.json").read_text()

    assert committed == documents[service], (
        f"docs/openapi/{service}.json is not what the code publishes: run `make openapi` and "
        "commit the result"
    )


def test_one_version_everywhere(documents: dict[str, str]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert pyproject["project"]["version"] == VERSION
    for text in documents.values():
        assert json.loads(text)["info"]["version"] == VERSION


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_follows_the_conventions(documents: dict[str, str], service: str) -> None:
    spec = json.loads(documents[service])

    assert spec["servers"] == [{"url": "/api"}]
    assert all(path.startswith(f"/{service}/") for path in spec["paths"])  # no /healthz
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))
    for method, path, operation in _operations(spec):
        label = f"{method.upper()} {path}"
        assert re.fullmatch(rf"{service}_[a-z_]+", operation["operationId"]), label
        assert operation["tags"] == [service], label
        assert {"400", "414", "431", "502", "504"} <= operation["responses"].keys(), label
        if operation.get("security"):
            assert {"401", "503"} <= operation["responses"].keys(), label
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"][PROBLEM_MEDIA_TYPE]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, label
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_error_code_has_its_type_documented() -> None:
    page = (ROOT / "docs" / "problems.md").read_text()

    for code, title in PROBLEM_TYPES.items():
        assert f"| `{code}` | {title} |" in page, code


def _gateway_allow_map() -> list[tuple[re.Pattern[str], str]]:
    template = (ROOT / "gateway" / "gateway.conf.template").read_text()
    block = template[
        template.index("$edge_allow {") : template.index("}", template.index("$edge_allow {"))
    ]
    return [
        (re.compile(pattern.replace("\\\\", "\\")), methods)
        for pattern, methods in re.findall(r'"~\^405::([^"]*)" "([^"]*)";', block)
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_gateways_405_allows_what_the_documents_list(
    documents: dict[str, str], service: str
) -> None:
    rules = _gateway_allow_map()
    spec = json.loads(documents[service])

    for path, item in spec["paths"].items():
        uri = "/api" + re.sub(r"\{[^}]+\}", "42", path)
        allowed = next(methods for pattern, methods in rules if pattern.match(uri))
        assert allowed == ", ".join(sorted(method.upper() for method in item)), uri
