"""The shared token check, used as the tasks, logs and KPI services use it: JWKS over HTTP."""

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from services.auth.keys import KeySet, SigningKey, generate_pem
from services.auth.tests.factories import create_access_token, create_foreign_key
from shared.contracts.roles import Role
from shared.core.context import REQUEST_ID
from shared.core.errors import UnauthorizedError
from shared.core.settings import ServiceSettings
from shared.web.client import async_service_client
from shared.web.errors import install_error_handlers
from shared.web.security import CurrentUser, JWKSKeySource, Principal, TokenVerifier

JWKS_URL = "http://auth.test/auth/.well-known/jwks.json"


class FakeAuth:
    """The auth service's JWKS endpoint, served by `httpx.MockTransport`."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.requests = 0
        self.up = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url == JWKS_URL
        return httpx.Response(200, json=self.key.jwks())


@pytest.fixture
def auth_key() -> SigningKey:
    return SigningKey.from_pem(generate_pem())


@pytest.fixture
def fake_auth(auth_key: SigningKey) -> FakeAuth:
    return FakeAuth(auth_key)


@pytest.fixture
def verifier(fake_auth: FakeAuth) -> Iterator[TokenVerifier]:
    source = JWKSKeySource(
        JWKS_URL, client=httpx.AsyncClient(transport=httpx.MockTransport(fake_auth.handle))
    )
    yield TokenVerifier(keys=source, issuer="efficient-system-auth", audience="efficient-system")
    asyncio.run(source.aclose())


def authenticate(verifier: TokenVerifier, token: str) -> Principal:
    """What a request's `CurrentUser` dependency does with its bearer token."""
    return asyncio.run(verifier.authenticate(token))


def _error_code(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the code is asserted below
        authenticate(verifier, token)
    return str(getattr(caught.value, "code", type(caught.value).__name__))


def test_accepts_a_token_from_the_auth_service(
    verifier: TokenVerifier, auth_key: SigningKey
) -> None:
    token = create_access_token(auth_key, user_id=42)

    principal = authenticate(verifier, token)

    assert (principal.id, principal.role, principal.token) == (42, Role.USER, token)


def test_keys_are_cached(
    verifier: TokenVerifier, auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    for _ in range(5):
        authenticate(verifier, create_access_token(auth_key))

    assert fake_auth.requests == 1


def test_cached_keys_keep_working_while_auth_is_down(
    verifier: TokenVerifier, auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    authenticate(verifier, create_access_token(auth_key))
    fake_auth.up = False

    assert authenticate(verifier, create_access_token(auth_key, user_id=7)).id == 7


def test_auth_down_with_no_cached_key_is_503(
    verifier: TokenVerifier, auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    fake_auth.up = False

    assert _error_code(verifier, create_access_token(auth_key)) == "service_unavailable"


def test_a_rotated_key_is_fetched_once_then_rate_limited(
    verifier: TokenVerifier, auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    authenticate(verifier, create_access_token(auth_key))
    stranger = create_foreign_key()

    for _ in range(3):
        assert _error_code(verifier, create_access_token(stranger)) == "invalid_token"

    # The first unknown kid may refetch only after the minimum interval: no refetch yet.
    assert fake_auth.requests == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"issued_at": datetime.now(UTC) - timedelta(hours=1)}, "token_expired"),
        ({"audience": "another-system"}, "invalid_token"),
        ({"issuer": "another-issuer"}, "invalid_token"),
    ],
    ids=["expired", "wrong-aud", "wrong-iss"],
)
def test_rejects_tokens_with_wrong_claims(
    verifier: TokenVerifier, auth_key: SigningKey, change: dict[str, object], code: str
) -> None:
    token = create_access_token(auth_key, **change)  # type: ignore[arg-type]

    assert _error_code(verifier, token) == code


def test_rejects_a_forged_signature_under_the_real_kid(
    verifier: TokenVerifier, auth_key: SigningKey
) -> None:
    forger = create_foreign_key()
    forged = create_access_token(SigningKey(private_key=forger.private_key, kid=auth_key.kid))

    assert _error_code(verifier, forged) == "invalid_token"


def test_rejects_alg_none(verifier: TokenVerifier, auth_key: SigningKey) -> None:
    token = jwt.encode(
        {"sub": "1", "role": "admin"}, "", algorithm="none", headers={"kid": auth_key.kid}
    )

    assert _error_code(verifier, token) == "invalid_token"


def test_rejects_hs256_signed_with_the_public_key(
    verifier: TokenVerifier, auth_key: SigningKey
) -> None:
    public_x = auth_key.public_jwk()["x"].encode()
    claims = {
        "sub": "1",
        "role": "admin",
        "iss": "efficient-system-auth",
        "aud": "efficient-system",
        "iat": 1,
        "exp": 4_000_000_000,
    }
    token = jwt.encode(claims, public_x, algorithm="HS256", headers={"kid": auth_key.kid})

    assert _error_code(verifier, token) == "invalid_token"


def test_rejects_a_token_without_a_role(verifier: TokenVerifier, auth_key: SigningKey) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "sub": "1",
        "iss": "efficient-system-auth",
        "aud": "efficient-system",
        "iat": now,
        "exp": now + 60,
    }
    token = jwt.encode(
        claims, auth_key.private_key, algorithm="EdDSA", headers={"kid": auth_key.kid}
    )

    assert _error_code(verifier, token) == "invalid_token"


def test_current_user_dependency_in_another_service(
    verifier: TokenVerifier, auth_key: SigningKey
) -> None:
    app = FastAPI()
    app.state.token_verifier = verifier
    install_error_handlers(app)

    @app.get("/whoami")
    def whoami(user: CurrentUser) -> dict[str, object]:
        return {"id": user.id, "admin": user.is_admin}

    client = TestClient(app)
    token = create_access_token(auth_key, user_id=5, role=Role.ADMIN)

    assert client.get("/whoami", headers={"Authorization": f"Bearer {token}"}).json() == {
        "id": 5,
        "admin": True,
    }
    assert client.get("/whoami").status_code == 401
    forged = create_access_token(create_foreign_key())
    assert client.get("/whoami", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "EdDSA", "kid": 1},
        {"alg": "EdDSA", "kid": "k", "crit": "b64"},
        {"alg": "EdDSA", "kid": "k", "crit": ["exp"]},
    ],
    ids=["kid-not-a-string", "crit-not-a-list", "crit-unsupported"],
)
def test_a_crafted_header_is_401_not_an_error(
    verifier: TokenVerifier, header: dict[str, object]
) -> None:
    encoded = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    token = f"{encoded}.e30.c2ln"

    assert _error_code(verifier, token) == "invalid_token"


def test_while_auth_is_down_stale_keys_serve_without_asking_it_each_time(
    auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    source = JWKSKeySource(
        JWKS_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(fake_auth.handle)),
        ttl_seconds=0,  # every key is stale at once
        min_refetch_seconds=60,
    )
    verifier = TokenVerifier(
        keys=source, issuer="efficient-system-auth", audience="efficient-system"
    )
    authenticate(verifier, create_access_token(auth_key))
    fake_auth.up = False

    for user_id in range(20):
        assert (
            authenticate(verifier, create_access_token(auth_key, user_id=user_id + 1)).id
            == user_id + 1
        )

    assert fake_auth.requests == 1  # the first fetch; no retry within min_refetch_seconds
    asyncio.run(source.aclose())


def test_the_first_requests_after_start_all_wait_for_the_one_first_fetch(
    auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    async def slow_jwks(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)  # auth answers slowly: every request arrives meanwhile
        return fake_auth.handle(request)

    source = JWKSKeySource(
        JWKS_URL, client=httpx.AsyncClient(transport=httpx.MockTransport(slow_jwks))
    )
    verifier = TokenVerifier(
        keys=source, issuer="efficient-system-auth", audience="efficient-system"
    )

    async def first_requests() -> list[Principal]:
        tokens = [create_access_token(auth_key, user_id=n) for n in range(1, 21)]
        return await asyncio.gather(*(verifier.authenticate(token) for token in tokens))

    principals = asyncio.run(first_requests())

    assert [principal.id for principal in principals] == list(range(1, 21))
    assert fake_auth.requests == 1


def test_prefetch_keeps_trying_until_auth_answers(
    auth_key: SigningKey, fake_auth: FakeAuth
) -> None:
    source = JWKSKeySource(
        JWKS_URL, client=httpx.AsyncClient(transport=httpx.MockTransport(fake_auth.handle))
    )
    fake_auth.up = False

    async def start_while_auth_is_down() -> None:
        prefetching = asyncio.ensure_future(source.prefetch(retry_seconds=0.05))
        await asyncio.sleep(0.2)
        fake_auth.up = True
        await asyncio.wait_for(prefetching, 5)

    asyncio.run(start_while_auth_is_down())

    assert source.get_key(auth_key.kid) is not None
    assert fake_auth.requests >= 2


class RotatingAuth(FakeAuth):
    """Auth whose JWKS publishes its current key and, after a rotation, the previous one."""

    def __init__(self, key: SigningKey) -> None:
        super().__init__(key)
        self.keys = KeySet(signing=key)

    def rotate(self) -> SigningKey:
        new = SigningKey.from_pem(generate_pem())
        self.keys = KeySet(signing=new, previous=self.keys.signing.public_jwk())
        return new

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, json=self.keys.jwks())


def _verifier_of(
    auth: FakeAuth, *, min_refetch_seconds: float = 10.0, leeway_seconds: float = 0
) -> tuple[TokenVerifier, JWKSKeySource]:
    """A verifier (and its key source) of the JWKS `auth` serves."""
    source = JWKSKeySource(
        JWKS_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(auth.handle)),
        min_refetch_seconds=min_refetch_seconds,
    )
    verifier = TokenVerifier(
        keys=source,
        issuer="efficient-system-auth",
        audience="efficient-system",
        leeway_seconds=leeway_seconds,
    )
    return verifier, source


def test_a_rotated_key_is_picked_up_and_the_previous_ones_tokens_still_verify(
    auth_key: SigningKey,
) -> None:
    auth = RotatingAuth(auth_key)
    verifier, source = _verifier_of(auth, min_refetch_seconds=0)
    before = create_access_token(auth_key, user_id=1)
    authenticate(verifier, before)

    new_key = auth.rotate()

    assert authenticate(verifier, create_access_token(new_key, user_id=2)).id == 2
    assert authenticate(verifier, before).id == 1
    assert authenticate(verifier, create_access_token(auth_key, user_id=3)).id == 3
    assert auth.requests == 2  # the new kid made one fetch; the old one needed none
    asyncio.run(source.aclose())


def test_forged_kids_make_at_most_one_fetch_per_interval(auth_key: SigningKey) -> None:
    auth = RotatingAuth(auth_key)
    verifier, source = _verifier_of(auth, min_refetch_seconds=3600)
    authenticate(verifier, create_access_token(auth_key))

    async def forged_burst() -> list[BaseException | Principal]:
        tokens = [create_access_token(create_foreign_key()) for _ in range(50)]
        return await asyncio.gather(
            *(verifier.authenticate(token) for token in tokens), return_exceptions=True
        )

    outcomes = asyncio.run(forged_burst())

    assert all(getattr(outcome, "code", None) == "invalid_token" for outcome in outcomes)
    assert auth.requests == 1  # the first fetch only
    asyncio.run(source.aclose())


@pytest.mark.parametrize(
    ("issued_ago", "lifetime", "accepted"),
    [
        (-5, 900, True),  # issued by a host 5 s ahead
        (905, 900, True),  # expired 5 s ago
        (-60, 900, False),  # a minute in the future
        (960, 900, False),  # expired a minute ago
    ],
    ids=["iat-ahead", "exp-just-past", "iat-far-ahead", "exp-long-past"],
)
def test_clock_skew_within_the_leeway_is_tolerated(
    fake_auth: FakeAuth, auth_key: SigningKey, issued_ago: int, lifetime: int, accepted: bool
) -> None:
    verifier, source = _verifier_of(fake_auth, leeway_seconds=10)
    issued_at = datetime.now(UTC) - timedelta(seconds=issued_ago)
    token = create_access_token(auth_key, issued_at=issued_at, ttl=timedelta(seconds=lifetime))

    if accepted:
        assert authenticate(verifier, token).id == 1
        assert authenticate(verifier, token).id == 1  # and again, from the cache
    else:
        assert _error_code(verifier, token) in {"invalid_token", "token_expired"}
    asyncio.run(source.aclose())


def test_the_leeway_setting_is_at_most_30_seconds() -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(_env_file=None, jwt_leeway_seconds=31)


def test_a_key_fetch_names_the_request_that_needed_it(auth_key: SigningKey) -> None:
    seen: list[str | None] = []

    def jwks(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("X-Request-ID"))
        return httpx.Response(200, json=auth_key.jwks())

    source = JWKSKeySource(
        JWKS_URL, client=async_service_client(timeout=1.0, transport=httpx.MockTransport(jwks))
    )
    verifier = TokenVerifier(
        keys=source, issuer="efficient-system-auth", audience="efficient-system"
    )

    async def request() -> Principal:
        REQUEST_ID.set("needs-the-key")  # as the request-context middleware does
        try:
            return await verifier.authenticate(create_access_token(auth_key, user_id=5))
        finally:
            await source.aclose()

    assert asyncio.run(request()).id == 5
    assert seen == ["needs-the-key"]  # auth's logs name the request that made it fetch


class RollingAuth(FakeAuth):
    """Two auth replicas mid-rollout: the first answer comes from a new pod (publishing the
    next key too), every later one from an old pod (the current key only)."""

    def __init__(self, key: SigningKey, next_key: SigningKey) -> None:
        super().__init__(key)
        self.answers = [KeySet(signing=key, next=next_key.public_jwk()), KeySet(signing=key)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        answer = self.answers[0] if self.requests == 1 else self.answers[-1]
        return httpx.Response(200, json=answer.jwks())


def _rolling_source(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    retention_seconds: float = 3600,
    max_keys: int = 8,
) -> tuple[TokenVerifier, JWKSKeySource]:
    """A verifier of the JWKS `handler` answers, refetching for any unknown kid."""
    source = JWKSKeySource(
        JWKS_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        min_refetch_seconds=0,
        retention_seconds=retention_seconds,
        max_keys=max_keys,
    )
    verifier = TokenVerifier(
        keys=source, issuer="efficient-system-auth", audience="efficient-system"
    )
    return verifier, source


def _after_fetches(source: JWKSKeySource, verifier: TokenVerifier, token: str, fetches: int) -> Any:
    """Fetch the JWKS `fetches` times, then authenticate `token`: the principal or the error."""

    async def scenario() -> Any:
        for _ in range(fetches):
            await source.refresh("a-kid-no-one-has")  # an unknown kid: a fetch
        try:
            return await verifier.authenticate(token)
        except UnauthorizedError as exc:
            return exc.code
        finally:
            await source.aclose()

    return asyncio.run(scenario())


def test_an_answer_from_an_old_replica_does_not_hide_a_key_seen_before(
    auth_key: SigningKey,
) -> None:
    next_key = SigningKey.from_pem(generate_pem())
    auth = RollingAuth(auth_key, next_key)
    verifier, source = _rolling_source(auth.handle)

    outcome = _after_fetches(source, verifier, create_access_token(next_key, user_id=5), 2)

    assert getattr(outcome, "id", outcome) == 5  # the old pod's answer did not drop the key
    assert auth.requests == 2  # and no refetch was needed


def test_a_key_no_answer_names_any_more_is_forgotten_after_the_retention(
    auth_key: SigningKey,
) -> None:
    next_key = SigningKey.from_pem(generate_pem())
    verifier, source = _rolling_source(RollingAuth(auth_key, next_key).handle, retention_seconds=0)

    outcome = _after_fetches(source, verifier, create_access_token(next_key), 2)

    assert outcome == "invalid_token"


def test_at_most_max_keys_are_kept_the_ones_named_last() -> None:
    keys = [SigningKey.from_pem(generate_pem()) for _ in range(3)]
    answers = iter(keys)

    def one_key_per_answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers).jwks())

    verifier, source = _rolling_source(one_key_per_answer, max_keys=2)
    last = create_access_token(keys[2], user_id=3)

    assert getattr(_after_fetches(source, verifier, last, 3), "id", None) == 3
    assert [source.get_key(key.kid) is not None for key in keys] == [False, True, True]
