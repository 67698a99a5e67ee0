"""The OpenAPI document of a service, as a client generator should see it.

Conventions (docs/api.md, "The OpenAPI documents, conventions, fuzzing"), applied to every route by
`finish_openapi` so that a new route follows them with nothing to add:

- **Operation ids** are `<service>_<endpoint function>` (`operation_id`), e.g. `kpi_trend`;
  a route whose function name reads badly sets `operation_id=` itself (`tasks_get`).
- **Errors** are `application/problem+json` (`shared.web.problems.Problem`). Each operation lists
  the statuses the gateway may answer for any route (`GATEWAY_STATUSES`), 401 when it needs a
  token, 422 when it takes parameters or a body, 400 and 413 when it takes a body, and 503
  when it needs a token or declares it. A route declares only its own further answers, with
  `problem_responses(404, 412, ...)`.
- **Servers:** the published document names the gateway's `/api` as its server; only routes
  reachable there are in it (the probes `/healthz` and `/readyz` are not).
"""

import copy
import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.core.version import VERSION
from shared.web.months import TIME_ZONE_SCHEMA_REF, time_zone_schema
from shared.web.problems import PROBLEM_MEDIA_TYPE, Problem

GATEWAY_PREFIX = "/api"
TOKEN_PATH = "/auth/login"
# nginx answers these itself, for any route: malformed request, URL too long, headers too
# large, service down, service too slow (gateway/gateway.conf.template).
GATEWAY_STATUSES = (400, 414, 431, 502, 504)

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request, or a body that is not valid JSON",
    401: "Not signed in, or the token is not valid (`WWW-Authenticate: Bearer`)",
    403: "Signed in, but not allowed to do this",
    404: "Not found",
    409: "Conflicts with the current state",
    412: "`If-Match` names another version than the current one",
    413: "The body is larger than 1 MiB",
    414: "The URL is too long (the gateway)",
    422: "Invalid input: `errors` names each field",
    429: "Too many requests: wait `Retry-After` seconds",
    431: "The request headers are too large (the gateway)",
    502: "The service is not answering (the gateway)",
    503: "Overloaded, or something it needs is down: try again after `Retry-After`",
    504: "The service took too long to answer (the gateway)",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "How to authenticate: `Bearer`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


def problem_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: its own error statuses, each a problem (RFC 9457)."""
    own = dict(descriptions or {})
    return {
        status: {"model": Problem, "description": own.get(status, DESCRIPTIONS[status])}
        for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    """`<service>_<endpoint function>`: the router's first tag names the service."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _problem(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in _HEADERS:
        response["headers"] = copy.deepcopy(_HEADERS[status])
    return response


def _implied_statuses(operation: Mapping[str, Any]) -> list[int]:
    statuses = list(GATEWAY_STATUSES)
    if operation.get("security"):
        statuses += [401, 503]
    if operation.get("parameters") or "requestBody" in operation:
        statuses.append(422)
    if "requestBody" in operation:
        statuses.append(413)
    return statuses


_FASTAPI_422_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _not_nullable(parameter: dict[str, Any]) -> None:
    """A query or header parameter is absent or a string, never null: drop FastAPI's `null`."""
    schema = parameter.get("schema", {})
    others = [choice for choice in schema.get("anyOf", []) if choice != {"type": "null"}]
    if len(others) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(others[0])


def _finish_operation(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        _not_nullable(parameter)
    responses: dict[str, Any] = operation["responses"]
    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
        del responses["422"]
    for implied in _implied_statuses(operation):
        responses.setdefault(str(implied), _problem(implied))
    for key, response in responses.items():
        content = response.get("content", {})
        if int(key) >= 400 and "application/json" in content:
            response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
        if int(key) in _HEADERS:
            response.setdefault("headers", copy.deepcopy(_HEADERS[int(key)]))
    operation["responses"] = dict(sorted(responses.items()))


def finish_openapi(schema: dict[str, Any], *, root_path: str) -> dict[str, Any]:
    """Apply the conventions above to FastAPI's document, as served under `root_path`."""
    schema = copy.deepcopy(schema)
    schema["info"]["version"] = VERSION
    if root_path:
        schema["servers"] = [{"url": root_path}]
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, model_schema in {**problem.pop("$defs", {}), "Problem": problem}.items():
        schemas.setdefault(name, model_schema)
    # FastAPI's own 422 body is replaced by a problem (`_finish_operation`).
    for name in _FASTAPI_422_SCHEMAS:
        schemas.pop(name, None)
    if TIME_ZONE_SCHEMA_REF in json.dumps(schema["paths"]):
        schemas["TimeZone"] = time_zone_schema()
    for scheme in components.get("securitySchemes", {}).values():
        password_flow = scheme.get("flows", {}).get("password")
        if password_flow is not None:
            password_flow["tokenUrl"] = root_path + TOKEN_PATH
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _finish_operation(operation)
    return schema


def published_openapi(app: FastAPI) -> dict[str, Any]:
    """The document clients generate from: as served through the gateway (`docs/openapi/`)."""
    return finish_openapi(app.openapi(), root_path=GATEWAY_PREFIX)
