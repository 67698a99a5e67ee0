"""`query_model`: the same answers and the same OpenAPI parameters as FastAPI's query models."""

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.tasks.deps import TaskListQuery
from shared.web.query import document_query_models, query_model


class Sample(BaseModel):
    count: int = Field(1, ge=1, le=10, description="How many.")
    name: str | None = Field(None, max_length=5)
    flag: bool = False


def _echo(query: BaseModel) -> dict[str, Any]:
    return query.model_dump(mode="json")


def _apps() -> tuple[FastAPI, FastAPI]:
    """The same models read by FastAPI (`usual`) and by `query_model` (`fast`)."""
    usual, fast = FastAPI(), FastAPI()

    @usual.get("/sample")
    async def usual_sample(query: Annotated[Sample, Query()]) -> dict[str, Any]:
        return _echo(query)

    @usual.get("/tasks")
    async def usual_tasks(query: Annotated[TaskListQuery, Query()]) -> dict[str, Any]:
        return _echo(query)

    @fast.get("/sample")
    async def fast_sample(
        query: Annotated[dict[str, Any], Depends(query_model(Sample, _echo))],
    ) -> dict[str, Any]:
        return query

    @fast.get("/tasks")
    async def fast_tasks(
        query: Annotated[dict[str, Any], Depends(query_model(TaskListQuery, _echo))],
    ) -> dict[str, Any]:
        return query

    document_query_models(fast)
    return usual, fast


USUAL, FAST = _apps()


@pytest.mark.parametrize(
    "url",
    [
        "/sample",
        "/sample?count=3&name=abc&flag=true",
        "/sample?count=3&count=4",  # a repeated name: the last value
        "/sample?count=0",
        "/sample?count=x&name=toolong&flag=maybe",  # every error at once
        "/sample?count=",
        "/sample?other=1",  # an unknown name is ignored
        "/tasks?year=2025&month=6&status=done&sort=due_date&order=asc&page_size=10",
        "/tasks?status=nope&assignee_id=0&page=0&total=yes",
    ],
)
def test_the_answer_is_fastapis(url: str) -> None:
    with TestClient(USUAL) as usual, TestClient(FAST) as fast:
        expected, answered = usual.get(url), fast.get(url)

    assert (answered.status_code, answered.json()) == (expected.status_code, expected.json())


def test_the_parameters_are_documented_as_fastapi_documents_them() -> None:
    expected, documented = USUAL.openapi(), FAST.openapi()

    for path in ("/sample", "/tasks"):
        parameters = documented["paths"][path]["get"]["parameters"]
        assert parameters == expected["paths"][path]["get"]["parameters"]
    assert (
        documented["components"]["schemas"]["SortField"]
        == (expected["components"]["schemas"]["SortField"])
    )
    assert FAST.openapi() is documented  # kept, and documented once
    assert len(FAST.openapi()["paths"]["/sample"]["get"]["parameters"]) == 3
