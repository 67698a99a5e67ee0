"""The web app through the real nginx: index.html for the app's routes, hashed files cached for
a year, index.html never served from a cache, and a CSP that allows the app's own files only."""

import httpx
import pytest

from tests.gateway.conftest import APP_INDEX, APP_SCRIPT


def _root(gateways: dict[str, str]) -> str:
    return gateways["default"].removesuffix("/api")


@pytest.mark.parametrize("path", ["/", "/tasks/12", "/dashboard", "/admin/users"])
def test_every_app_route_gets_index_html_revalidated(gateways: dict[str, str], path: str) -> None:
    response = httpx.get(_root(gateways) + path)

    assert response.status_code == 200
    assert response.text == APP_INDEX
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_and_gzipped(gateways: dict[str, str]) -> None:
    response = httpx.get(
        _root(gateways) + "/assets/index-3f9a1c.js", headers={"Accept-Encoding": "gzip"}
    )

    assert response.status_code == 200
    assert response.text == APP_SCRIPT
    assert response.headers["Content-Type"] == "application/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"


def test_a_missing_asset_is_a_404_problem_not_the_app(gateways: dict[str, str]) -> None:
    response = httpx.get(_root(gateways) + "/assets/index-000000.js")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "Cache-Control" not in response.headers


def test_the_app_policy_allows_its_own_scripts_styles_and_connections_only(
    gateways: dict[str, str],
) -> None:
    policy = httpx.get(_root(gateways) + "/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))

    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_api_answers_keep_their_own_cache_headers(gateways: dict[str, str]) -> None:
    response = httpx.get(f"{gateways['default']}/tasks/small")

    assert "Cache-Control" not in response.headers
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
