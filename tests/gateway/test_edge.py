"""What the gateway adds at the edge, through the real nginx: security headers on every
response (errors included), CORS for allowed origins only, gzip, and the login flood guard."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.web.problems import Problem, problem_title, problem_type
from tests.gateway.conftest import start_gateway

ALLOWED = "http://localhost:5173"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


def _responses(base: str) -> dict[str, httpx.Response]:
    """One response of each kind: the gateway's own, a service's, and the gateway's errors."""
    return {
        "health": httpx.get(f"{base}/healthz"),
        "service": httpx.get(f"{base}/tasks/small"),
        "service 404": httpx.get(f"{base}/tasks/nothing"),
        "gateway 404": httpx.get(f"{base}/elsewhere"),
        "413": httpx.post(f"{base}/tasks/small", content=b"x" * (1024 * 1024 + 1)),
        "502": httpx.get(f"{base}/kpi/monthly"),
        "431": httpx.get(f"{base}/tasks/small", headers={"Cookie": "c=" + "x" * 20_000}),
        "414": httpx.get(f"{base}/tasks/small", params={"q": "x" * 10_000}),
    }


def test_the_gateways_own_errors_are_problem_details(gateways: dict[str, str]) -> None:
    responses = _responses(gateways["default"])
    responses["405"] = httpx.request("TRACE", f"{gateways['default']}/tasks/small")

    for kind, response in responses.items():
        if response.status_code < 400 or kind == "service 404":
            continue
        assert response.headers["Content-Type"] == "application/problem+json", kind
        problem = Problem.model_validate(response.json())
        assert problem.status == response.status_code, kind
        assert problem.type == problem_type(problem.code) != "about:blank", kind
        assert problem.title == problem_title(problem.code, problem.status), kind
        assert problem.detail == problem.message, kind
        assert problem.request_id == response.headers["X-Request-ID"], kind


def test_every_response_carries_the_security_headers(gateways: dict[str, str]) -> None:
    responses = _responses(gateways["default"])

    assert [r.status_code for r in responses.values()] == [200, 200, 404, 404, 413, 502, 431, 414]
    for kind, response in responses.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        assert headers["Referrer-Policy"] == "no-referrer", kind
        assert headers["X-Frame-Options"] == "DENY", kind
        assert headers["Content-Security-Policy"].startswith("default-src 'none'"), kind
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], kind
        assert headers["X-Request-ID"], kind
        assert "Strict-Transport-Security" not in headers, kind  # not served over TLS


def test_hsts_is_sent_when_the_gateway_is_served_over_tls(gateways: dict[str, str]) -> None:
    for kind, response in _responses(gateways["configured"]).items():
        assert response.headers["Strict-Transport-Security"].startswith("max-age="), kind


def test_the_docs_pages_get_a_policy_that_lets_swagger_ui_run(gateways: dict[str, str]) -> None:
    docs = httpx.get(f"{gateways['default']}/tasks/docs").headers["Content-Security-Policy"]
    json_answer = httpx.get(f"{gateways['default']}/tasks/small").headers

    assert "script-src 'unsafe-inline' https://cdn.jsdelivr.net" in docs
    assert "connect-src 'self'" in docs
    assert "frame-ancestors 'none'" in docs
    assert "cdn.jsdelivr.net" not in json_answer["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("gateway", "origin", "allowed"),
    [
        ("configured", ALLOWED, True),
        ("configured", "https://app.example.com", True),
        ("configured", "https://evil.example.com", False),
        ("configured", "http://localhost:51730", False),  # a longer origin, same prefix
        ("configured", "https://app.example.com.evil.net", False),
        ("configured", "http://localhost:5173|http://localhost:5173", False),
        ("default", ALLOWED, False),  # no list: same origin only
    ],
)
def test_only_an_allowed_origin_gets_cors_headers(
    gateways: dict[str, str], gateway: str, origin: str, allowed: bool
) -> None:
    base = gateways[gateway]
    simple = httpx.get(f"{base}/tasks/small", headers={"Origin": origin})
    preflight = httpx.options(
        f"{base}/tasks/small",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )

    assert preflight.status_code == 204
    if allowed:
        assert simple.headers["Access-Control-Allow-Origin"] == origin
        assert "ETag" in simple.headers["Access-Control-Expose-Headers"]
        assert "Origin" in simple.headers["Vary"]
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
        assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        assert preflight.headers["Access-Control-Max-Age"] == "600"
    else:
        for name in CORS_HEADERS:
            assert name not in simple.headers, name
            assert name not in preflight.headers, name
    assert preflight.headers["X-Content-Type-Options"] == "nosniff"


def test_cors_headers_are_on_errors_too(gateways: dict[str, str]) -> None:
    base = gateways["configured"]

    for response in (
        httpx.get(f"{base}/tasks/nothing", headers={"Origin": ALLOWED}),
        httpx.get(f"{base}/kpi/monthly", headers={"Origin": ALLOWED}),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_large_json_answers_are_gzipped(gateways: dict[str, str]) -> None:
    base = gateways["default"]
    gzip = {"Accept-Encoding": "gzip"}

    big = httpx.get(f"{base}/tasks/big", headers=gzip)
    small = httpx.get(f"{base}/tasks/small", headers=gzip)
    plain = httpx.get(f"{base}/tasks/big", headers={"Accept-Encoding": "identity"})

    assert big.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in big.headers["Vary"]
    assert big.json() == plain.json()
    assert big.num_bytes_downloaded < plain.num_bytes_downloaded / 3
    assert "Content-Encoding" not in small.headers
    assert "Content-Encoding" not in plain.headers


def test_answers_with_a_strong_etag_are_not_gzipped(gateways: dict[str, str]) -> None:
    base = gateways["default"]
    gzip = {"Accept-Encoding": "gzip"}

    read = httpx.get(f"{base}/tasks/7", headers=gzip, params={"x": "1"})
    created = httpx.post(f"{base}/tasks/", headers=gzip, json={"title": "t"})
    listed = httpx.get(f"{base}/tasks/", headers=gzip)

    # gzip would weaken the ETag to W/"7", which If-Match (strong comparison) never matches.
    for response in (read, created):
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert response.headers["ETag"] == '"7"'
    assert listed.headers["Content-Encoding"] == "gzip"


def test_a_services_429_keeps_its_own_retry_after(gateways: dict[str, str]) -> None:
    response = httpx.get(f"{gateways['default']}/auth/limited")

    assert response.status_code == 429
    assert response.headers.get_list("Retry-After") == ["7"]


@pytest.fixture
def flood_guarded(upstream: str, tmp_path: Path) -> Iterator[str]:
    """A gateway of this test's own, with the default flood guard and no state yet."""
    base, process = start_gateway(tmp_path, upstream)
    yield base
    process.terminate()
    process.wait(timeout=10)


async def _logins(base: str, count: int) -> list[httpx.Response]:
    body = {"username": "someone", "password": "whatever"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=count)) as client:
        return await asyncio.gather(
            *(client.post(f"{base}/auth/login", json=body) for _ in range(count))
        )


def test_fifty_sign_ins_from_one_address_at_once_pass_the_flood_guard(
    flood_guarded: str,
) -> None:
    assert [r.status_code for r in asyncio.run(_logins(flood_guarded, 50))] == [200] * 50


def test_a_flood_from_one_address_is_a_json_429(flood_guarded: str) -> None:
    responses = asyncio.run(_logins(flood_guarded, 250))

    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert {r.status_code for r in responses} == {200, 429}
    response = limited[0]
    assert response.json()["code"] == "rate_limited"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    assert response.headers.get_list("Retry-After") == ["10"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


SECRET = "f" * 64


@pytest.fixture(scope="module")
def with_secret(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway that shares GATEWAY_SECRET with auth."""
    base, process = start_gateway(
        tmp_path_factory.mktemp("secret"), upstream, GATEWAY_SECRET=SECRET
    )
    yield base
    process.terminate()
    process.wait(timeout=10)


def _sent(base: str, service: str) -> dict[str, str]:
    """The headers `service` received for a client that forges the gateway's."""
    forged = {"X-Gateway-Secret": "forged-by-the-client", "X-Forwarded-For": "198.51.100.9"}
    answer: dict[str, str] = httpx.get(f"{base}/{service}/headers", headers=forged).json()
    return answer


def test_the_gateway_proves_itself_to_auth_alone(
    with_secret: str, gateways: dict[str, str]
) -> None:
    to_auth, to_tasks = _sent(with_secret, "auth"), _sent(with_secret, "tasks")
    without = _sent(gateways["default"], "auth")

    assert (to_auth["x-gateway-secret"], to_auth["x-forwarded-for"]) == (SECRET, "127.0.0.1")
    assert "x-gateway-secret" not in to_tasks  # no other service learns the secret
    assert "x-gateway-secret" not in without  # no secret configured: the client's is dropped
