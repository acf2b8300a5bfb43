"""Per-client rate limiting through the GraphQL API, with an injected monotonic ticker.

Publishes: one token per publishNotice from the client IP's budget; over it -> PublishRejected
RATE_LIMITED (nothing verified or stored). Reads: one token per query request from the budget of
the bearer credential (else the IP); over it -> HTTP 429, Retry-After, extensions.code
RATE_LIMITED."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from hub.app import create_app
from hub.ratelimit import RateLimit, TokenBucketLimiter, client_key
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.conftest import register
from tests.hub.helpers import PUBLISH, FixedClock, HubApi, cfa_key, make_notice, signed

KEYSET = {"query": "{ keySet { protected } }"}


@dataclass
class Ticker:
    at: float = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
async def limited_app(settings: HubSettings, ticker: Ticker) -> AsyncIterator[FastAPI]:
    limited = settings.model_copy(
        update={
            "rate_publish_per_second": 2.0,
            "rate_publish_burst": 3,
            "rate_read_per_second": 4.0,
            "rate_read_burst": 5,
        }
    )
    application = create_app(limited, clock=FixedClock(), ticker=ticker)
    async with application.router.lifespan_context(application):
        await register(application.state.hub, cfa_key())
        yield application


def client(app: FastAPI, ip: str = "192.0.2.1", **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hub.test", headers=headers)


async def publish(http: httpx.AsyncClient) -> httpx.Response:
    envelope = signed(make_notice()).model_dump()
    return await http.post("/graphql", json={"query": PUBLISH, "variables": {"envelope": envelope}})


async def stored(app: FastAPI) -> int:
    hub: HubState = app.state.hub
    async with hub.transaction() as session:
        count: int = (await session.execute(text("SELECT count(*) FROM notices"))).scalar_one()
    return count


async def test_publish_over_budget_is_rate_limited_and_refills(
    limited_app: FastAPI, ticker: Ticker
) -> None:
    async with client(limited_app) as http:
        for _ in range(3):  # the burst
            result = (await publish(http)).json()["data"]["publishNotice"]
            assert result["__typename"] == "PublishAccepted"
        response = await publish(http)
        assert response.status_code == 200
        assert response.headers["retry-after"] == "1"
        result = response.json()["data"]["publishNotice"]
        assert result["__typename"] == "PublishRejected"
        assert result["code"] == "RATE_LIMITED"
        assert await stored(limited_app) == 3
        ticker.at += 0.5  # 2/s: one token back
        result = (await publish(http)).json()["data"]["publishNotice"]
        assert result["__typename"] == "PublishAccepted"
        result = (await publish(http)).json()["data"]["publishNotice"]
        assert result["code"] == "RATE_LIMITED"
    assert await stored(limited_app) == 4


async def test_each_aliased_publish_takes_a_token(limited_app: FastAPI) -> None:
    envelopes = [signed(make_notice()).model_dump() for _ in range(5)]
    query = (
        "mutation("
        + ", ".join(f"$e{i}: SignedEnvelopeInput!" for i in range(5))
        + ") { "
        + " ".join(
            f"p{i}: publishNotice(envelope: $e{i}) {{ __typename ... on PublishRejected {{ code }} }}"
            for i in range(5)
        )
        + " }"
    )
    async with client(limited_app) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {f"e{i}": e for i, e in enumerate(envelopes)}},
        )
    data = response.json()["data"]
    outcomes = [data[f"p{i}"].get("code", data[f"p{i}"]["__typename"]) for i in range(5)]
    assert outcomes == ["PublishAccepted"] * 3 + ["RATE_LIMITED"] * 2


async def test_publish_budget_is_per_ip_and_ignores_bearer_headers(limited_app: FastAPI) -> None:
    async with client(limited_app, ip="192.0.2.1") as http:
        for _ in range(3):
            await publish(http)
    # A made-up bearer header does not buy a fresh publish budget on the same IP ...
    async with client(limited_app, ip="192.0.2.1", authorization="Bearer made-up") as http:
        result = (await publish(http)).json()["data"]["publishNotice"]
        assert result["code"] == "RATE_LIMITED"
    # ... another IP has its own.
    async with client(limited_app, ip="198.51.100.7") as http:
        result = (await publish(http)).json()["data"]["publishNotice"]
        assert result["__typename"] == "PublishAccepted"


async def test_reads_over_budget_get_429_with_retry_after(
    limited_app: FastAPI, ticker: Ticker
) -> None:
    async with client(limited_app) as http:
        for _ in range(5):
            assert (await http.post("/graphql", json=KEYSET)).status_code == 200
        response = await http.post("/graphql", json=KEYSET)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["message"]
        # GET is a read too, and a document that does not even parse still costs a token.
        assert (await http.get("/graphql", params=KEYSET)).status_code == 429
        assert (await http.post("/graphql", json={"query": "{ broken"})).status_code == 429
        ticker.at += 0.25  # 4/s: one token back
        assert (await http.post("/graphql", json=KEYSET)).status_code == 200
        assert (await http.post("/graphql", json=KEYSET)).status_code == 429


async def test_read_and_publish_budgets_are_separate(limited_app: FastAPI) -> None:
    async with client(limited_app) as http:
        for _ in range(5):
            await http.post("/graphql", json=KEYSET)
        assert (await http.post("/graphql", json=KEYSET)).status_code == 429
        result = (await publish(http)).json()["data"]["publishNotice"]
        assert result["__typename"] == "PublishAccepted"  # mutations do not spend reads


async def test_read_budget_is_keyed_by_credential_when_one_is_sent(limited_app: FastAPI) -> None:
    # Many subscribers behind one node (one IP) each get their own read budget.
    async with client(limited_app, authorization="Bearer tenant-a") as http:
        for _ in range(5):
            assert (await http.post("/graphql", json=KEYSET)).status_code == 200
        assert (await http.post("/graphql", json=KEYSET)).status_code == 429
    async with client(limited_app, authorization="Bearer tenant-b") as http:
        assert (await http.post("/graphql", json=KEYSET)).status_code == 200
    async with client(limited_app) as http:  # the bare IP has its own budget
        assert (await http.post("/graphql", json=KEYSET)).status_code == 200


async def test_default_limits_are_generous_for_normal_use(api: HubApi) -> None:
    for _ in range(50):
        await api.key_set()


def test_idle_buckets_are_evicted_and_memory_is_bounded() -> None:
    now = Ticker(0.0)
    limiter = TokenBucketLimiter(RateLimit(per_second=10, burst=20), ticker=now, max_clients=100)
    for i in range(100):
        assert limiter.take(f"ip:{i}").allowed
    assert len(limiter) == 100
    limiter.take("ip:new")  # over max_clients: the least recently used goes
    assert len(limiter) == 100
    now.at += 2.0  # burst / rate: every bucket is full again, so equivalent to a new one
    for i in range(10):
        limiter.take(f"fresh:{i}")
    assert len(limiter) < 100  # idle, refilled buckets are swept as traffic continues
    for _ in range(200):
        limiter.take("fresh:0")
    assert len(limiter) <= 11


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    now = Ticker(0.0)
    limiter = TokenBucketLimiter(RateLimit(per_second=1, burst=2), ticker=now, max_clients=10)
    now.at += 3600
    assert [limiter.take("c").allowed for _ in range(3)] == [True, True, False]
    decision = limiter.take("c")
    assert decision.retry_after == pytest.approx(1.0)
    assert decision.retry_after_header == "1"


def test_client_key_hashes_the_credential() -> None:
    key = client_key(authorization="Bearer s3cret", client_ip="192.0.2.1")
    assert key.startswith("cred:") and "s3cret" not in key
    assert client_key(authorization="Basic abc", client_ip="192.0.2.1") == "ip:192.0.2.1"
    assert client_key(authorization=None, client_ip=None) == "ip:unknown"


async def test_a_bulk_publish_takes_one_token_per_field(limited_app: FastAPI) -> None:
    """Burst 3: a request of four publishNotice fields stores three; the fourth is refused
    RATE_LIMITED, and nothing was charged twice (the direct path gave its tokens back)."""
    fields = " ".join(
        f"p{i}: publishNotice(envelope: $e{i}) {{ __typename ... on PublishRejected {{ code }} }}"
        for i in range(4)
    )
    definitions = ", ".join(f"$e{i}: SignedEnvelopeInput!" for i in range(4))
    query = f"mutation({definitions}) {{ {fields} }}"
    variables = {f"e{i}": signed(make_notice()).model_dump() for i in range(4)}
    async with client(limited_app) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    data = response.json()["data"]
    assert [data[f"p{i}"]["__typename"] for i in range(4)] == [
        "PublishAccepted",
        "PublishAccepted",
        "PublishAccepted",
        "PublishRejected",
    ]
    assert data["p3"]["code"] == "RATE_LIMITED"
    async with limited_app.state.hub.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM notices"))).scalar_one() == 3
