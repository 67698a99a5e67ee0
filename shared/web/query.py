"""Query models read in one validation, and documented as FastAPI documents them.

A query model (`Annotated[Model, Query()]`) is read by FastAPI field by field, in Python: for
each field its aliases, whether its type is a sequence, its value; then the model is validated.
On the task list (twelve fields) that was about a sixth of the request's CPU, and about 60 µs
on a KPI's three. `query_model(Model)` is a dependency that validates the query string with
one pydantic call instead, with the same outcome: the same values (the last one of a repeated
name, as FastAPI takes it for a field that is not a list) and, for bad input, the same 422
errors, each at `("query", field)`.

FastAPI does not see the fields then, so it would not document them: `document_query_models`
adds each route's query-model parameters (and the schemas they refer to) to the app's OpenAPI
document, exactly as FastAPI writes them for a model declared the usual way (they are taken
from a probe route that declares it so).
"""

import functools
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
_MODEL_ATTRIBUTE = "query_model"
# The keys of an operation in the order FastAPI writes them (when it has parameters).
_OPERATION_KEYS = (
    "tags",
    "summary",
    "description",
    "operationId",
    "deprecated",
    "security",
    "parameters",
    "requestBody",
    "responses",
    "callbacks",
)
_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def query_model(
    model: type[ModelT], build: Callable[[ModelT], ResultT]
) -> Callable[[Request], Coroutine[Any, Any, ResultT]]:
    """A dependency: `build(query)`, `query` being `model` read from the query string (see the
    module docstring); `build` may raise a `RequestValidationError` of its own."""

    async def read(request: Request) -> ResultT:
        try:
            query = model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError(
                [{**error, "loc": ("query", *error["loc"])} for error in errors]
            ) from None
        return build(query)

    setattr(read, _MODEL_ATTRIBUTE, model)
    read.__name__ = read.__qualname__ = getattr(build, "__name__", model.__name__)
    read.__doc__ = build.__doc__
    return read


def document_query_models(app: FastAPI) -> None:
    """Make `app.openapi()` document the parameters of its routes' `query_model`s."""
    build = app.openapi
    documented: list[dict[str, Any]] = []  # the document last added to

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI keeps it until a route is added: add to each once
        if not documented or documented[0] is not schema:
            for route in iter_route_contexts(app.routes):  # those of included routers too
                if isinstance(route.original_route, APIRoute) and route.include_in_schema:
                    _document_route(schema, route)
            if schemas := schema.get("components", {}).get("schemas"):  # in FastAPI's order
                schema["components"]["schemas"] = dict(sorted(schemas.items()))
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_route(schema: dict[str, Any], route: RouteContext) -> None:
    models = list(_query_models(route.dependant))
    if not models:
        return
    known = schema.setdefault("components", {}).setdefault("schemas", {})
    for method in route.methods or ():
        path_item = schema["paths"][route.path_format]
        operation = path_item[method.lower()] = _with_parameters(path_item[method.lower()])
        parameters = operation["parameters"]
        for model in models:
            documented, components = _documented(model)
            present = {(parameter["name"], parameter["in"]) for parameter in parameters}
            parameters.extend(
                parameter
                for parameter in json.loads(documented)
                if (parameter["name"], parameter["in"]) not in present  # used twice: once
            )
            for name, component in components.items():
                known.setdefault(name, component)


def _with_parameters(operation: dict[str, Any]) -> dict[str, Any]:
    """`operation` with a `parameters` list, its keys in the order FastAPI writes them."""
    operation.setdefault("parameters", [])
    order = [key for key in _OPERATION_KEYS if key in operation]
    return {key: operation[key] for key in [*order, *(k for k in operation if k not in order)]}


def _query_models(dependant: Dependant) -> Iterator[type[BaseModel]]:
    """The `query_model`s of a route's dependencies, in the order FastAPI lists parameters."""
    for sub in dependant.dependencies:
        yield from _query_models(sub)
        model = getattr(sub.call, _MODEL_ATTRIBUTE, None)
        if model is not None:
            yield model


@functools.cache
def _documented(model: type[BaseModel]) -> tuple[str, dict[str, Any]]:
    """The parameters FastAPI documents for `model` as a query model (as JSON: each use gets
    its own copy), and the component schemas they refer to."""
    probe = FastAPI()

    @probe.get("/")
    async def endpoint(query: Annotated[model, Query()]) -> None:  # type: ignore[valid-type]
        """Declares the model the usual way."""

    document = get_openapi(title="probe", version="0", routes=probe.routes)
    parameters = document["paths"]["/"]["get"]["parameters"]
    available = document.get("components", {}).get("schemas", {})
    wanted, components = set(_REF.findall(json.dumps(parameters))), {}
    while wanted:
        name = wanted.pop()
        if name in available and name not in components:
            components[name] = available[name]
            wanted |= set(_REF.findall(json.dumps(available[name])))
    return json.dumps(parameters), components
