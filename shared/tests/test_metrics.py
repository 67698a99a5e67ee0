"""Each API's metrics: served on a port of their own, requests under their route template."""

import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from shared.core.settings import ServiceSettings
from shared.web.app import create_service_app
from shared.web.security import CurrentUser
from tests.tokens import TestSigner

router = APIRouter(prefix="/gadgets")
signer = TestSigner()


@router.get("/{gadget_id}")
def get_gadget(gadget_id: int, user: CurrentUser) -> dict[str, int]:
    return {"gadget_id": gadget_id}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def metrics_port() -> int:
    return free_port()


def gadgets_app(database_url: str, metrics_port: int) -> FastAPI:
    settings = ServiceSettings(
        _env_file=None,
        database_url=database_url,
        log_json=False,
        metrics_port=metrics_port,
        metrics_address="127.0.0.1",
    )
    return create_service_app(
        service="gadgets",
        title="gadgets",
        settings=settings,
        token_verifier=signer.verifier(),
        routers=[router],
    )


@pytest.fixture
def client(database_url: str, metrics_port: int) -> Iterator[TestClient]:
    with TestClient(gadgets_app(database_url, metrics_port)) as client:
        yield client


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the process's /metrics, by name and labels."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], route: str, status: str
) -> float:
    labels = {
        ("http_route", route),
        ("http_request_method", "GET"),
        ("http_response_status_code", status),
    }
    return samples.get(("http_server_request_duration_seconds_count", frozenset(labels)), 0.0)


def test_requests_are_counted_under_their_route_template_on_the_metrics_port(
    client: TestClient, metrics_port: int
) -> None:
    before = scrape(metrics_port)

    assert client.get("/gadgets/123", headers=signer.headers(1)).status_code == 200
    behind_gateway = {**signer.headers(1), "X-Forwarded-Prefix": "/api"}
    assert client.get("/gadgets/456", headers=behind_gateway).status_code == 200
    assert client.get("/gadgets/789").status_code == 401
    assert client.get("/no/such/path/5551234").status_code == 404
    after = scrape(metrics_port)

    assert requests(after, "/gadgets/{gadget_id}", "200") - requests(
        before, "/gadgets/{gadget_id}", "200"
    ) == pytest.approx(2)
    assert requests(after, "/gadgets/{gadget_id}", "401") >= 1
    assert requests(after, "unmatched", "404") >= 1
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert "/gadgets/123" not in text  # never the raw path
    assert "5551234" not in text


def test_the_metrics_port_has_the_pool_and_process_metrics_the_api_port_has_none(
    client: TestClient, metrics_port: int
) -> None:
    client.get("/readyz")  # uses a connection

    samples = scrape(metrics_port)
    names = {name for name, _ in samples}

    assert {"db_client_connection_count", "db_client_connection_max"} <= names
    assert "process_cpu_seconds_total" in names
    assert "process_resident_memory_bytes" in names
    assert client.get("/metrics").status_code == 404  # the API's port does not serve them


def test_the_metrics_port_closes_with_the_app(database_url: str, metrics_port: int) -> None:
    with TestClient(gadgets_app(database_url, metrics_port)):
        assert scrape(metrics_port)

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)


def recorded(route: str) -> float:
    """Requests of `route` answered 200 to a GET, in this process's histogram."""
    labels = {"http_route": route, "http_request_method": "GET", "http_response_status_code": "200"}
    return REGISTRY.get_sample_value("http_server_request_duration_seconds_count", labels) or 0.0


@pytest.mark.parametrize(("port", "counted"), [(0, 0), (None, 1)])
def test_an_api_without_a_metrics_port_records_no_request_durations(
    database_url: str, port: int | None, counted: int
) -> None:
    with TestClient(gadgets_app(database_url, free_port() if port is None else port)) as client:
        before = recorded("/gadgets/{gadget_id}")
        assert client.get("/gadgets/5", headers=signer.headers(1)).status_code == 200

        assert recorded("/gadgets/{gadget_id}") - before == counted
