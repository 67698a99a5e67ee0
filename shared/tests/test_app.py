"""The common app parts: docs under the service prefix, right directly and behind the gateway."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from shared.app import create_service_app
from shared.security import CurrentUser, Principal
from shared.settings import ServiceSettings
from tests.tokens import TestSigner

router = APIRouter(prefix="/things", tags=["things"])


@router.get("/{thing_id}")
def get_thing(thing_id: int, user: CurrentUser) -> dict[str, int]:
    return {"thing_id": thing_id, "user": user.id}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = ServiceSettings(_env_file=None, database_url=database_url, log_json=False)
    app = create_service_app(
        service="things",
        title="things",
        settings=settings,
        token_verifier=TestSigner().verifier(),
        routers=[router],
    )
    with TestClient(app) as client:
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
