"""The common app parts: docs under the service prefix, right directly and behind the gateway."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from shared.core.settings import ServiceSettings
from shared.web.app import create_service_app
from shared.web.security import CurrentUser, Principal
from tests.tokens import TestSigner

router = APIRouter(prefix="/things", tags=["things"])


@router.get("/{thing_id}")
def get_thing(thing_id: int, user: CurrentUser) -> dict[str, int]:
    return {"thing_id": thing_id, "user": user.id}


@router.post("/")
def add_thing(body: dict[str, str]) -> dict[str, int]:
    return {"fields": len(body)}


def _app(routes: APIRouter, database_url: str) -> FastAPI:
    settings = ServiceSettings(
        _env_file=None, database_url=database_url, log_json=False, metrics_port=0
    )
    name = routes.prefix.strip("/")
    return create_service_app(
        service=name,
        title=name,
        settings=settings,
        token_verifier=TestSigner().verifier(),
        routers=[routes],
    )


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(_app(router, database_url)) as client:
        yield client


def test_docs_live_under_the_service_prefix(client: TestClient) -> None:
    schema = client.get("/things/openapi.json").json()
    page = client.get("/things/docs")

    assert "/things/{thing_id}" in schema["paths"]
    assert "servers" not in schema
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/login"
    assert page.status_code == 200
    assert "'/things/openapi.json'" in page.text or '"/things/openapi.json"' in page.text


def test_behind_the_gateway_docs_and_login_carry_its_prefix(client: TestClient) -> None:
    headers = {"X-Forwarded-Prefix": "/api"}

    schema = client.get("/things/openapi.json", headers=headers).json()
    page = client.get("/things/docs", headers=headers)

    assert schema["servers"] == [{"url": "/api"}]
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/auth/login"
    assert "/api/things/openapi.json" in page.text


def test_a_strange_prefix_is_ignored(client: TestClient) -> None:
    schema = client.get("/things/openapi.json", headers={"X-Forwarded-Prefix": "javascript:x"})

    assert "servers" not in schema.json()


def test_routes_still_match_behind_the_gateway(client: TestClient) -> None:
    signer = TestSigner()
    client.app.state.token_verifier = signer.verifier()  # type: ignore[attr-defined]

    response = client.get("/things/5", headers={"X-Forwarded-Prefix": "/api", **signer.headers(3)})

    assert response.json() == {"thing_id": 5, "user": 3}


def test_principal_hides_its_token() -> None:
    principal = Principal(id=1, role="user", token="secret-token")  # type: ignore[arg-type]

    assert "secret-token" not in repr(principal)
    assert "token" not in principal.model_dump()


def test_redirects_behind_the_gateway_keep_its_prefix(client: TestClient) -> None:
    response = client.get(
        "/things/5/", headers={"X-Forwarded-Prefix": "/api"}, follow_redirects=False
    )

    assert response.status_code == 307
    assert response.headers["Location"] == "http://testserver/api/things/5"


def test_an_unexpected_error_is_a_problem_500_with_the_request_id(database_url: str) -> None:
    failing = APIRouter(prefix="/broken")

    @failing.get("/")
    def broken() -> None:
        raise RuntimeError("a bug")

    settings = ServiceSettings(
        _env_file=None,
        database_url=database_url,
        log_json=False,
        log_level="ERROR",
        metrics_port=0,
    )
    app = create_service_app(
        service="broken",
        title="broken",
        settings=settings,
        token_verifier=TestSigner().verifier(),
        routers=[failing],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken/", headers={"X-Request-ID": "trace-500"})

    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "tag:efficient-system,2026:problems/internal_error",
        "title": "Internal error",
        "status": 500,
        "detail": "An unexpected error occurred.",
        "instance": "/broken/",
        "code": "internal_error",
        "message": "An unexpected error occurred.",
        "request_id": "trace-500",
    }
    assert response.headers["X-Request-ID"] == "trace-500"
    assert "a bug" not in response.text


def test_a_streamed_body_over_the_limit_is_413_content_too_large(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(2 * 1024):
            yield b"x" * 1024

    response = client.post(
        "/things/", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["code"] == "content_too_large"


def test_a_declared_body_over_the_limit_is_a_413_problem_naming_the_path(
    client: TestClient,
) -> None:
    response = client.post(
        "/things/",
        content=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json", "X-Forwarded-Prefix": "/api"},
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["instance"] == "/api/things/"


def test_405_is_a_problem_that_allows_every_method_of_the_path(database_url: str) -> None:
    items = APIRouter(prefix="/items", tags=["items"])

    @items.get("/{item_id}")
    def read(item_id: int) -> int:
        return item_id

    @items.delete("/{item_id}")
    def remove(item_id: int) -> None:
        return None

    with TestClient(_app(items, database_url)) as client:
        response = client.post("/items/5")

    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"
