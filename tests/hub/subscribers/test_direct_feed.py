"""The direct feed path (hub/subscribers/direct.py) answers exactly what the GraphQL path
answers, charges the reads budget once, and leaves every other request to the GraphQL path.
The window cache (``FeedWindows``) cuts the same pages as the SQL path; ``FeedAuthenticator``
checks concurrent reads in shared queries and still refuses a suspended subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.app import create_app
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.direct import DirectFeed
from hub.subscribers.registry import FeedAuthenticator, set_suspended
from hub.subscribers.service import FeedWindows
from municipal_node.relay.hub_client import FEED_QUERY
from tests.hub.conftest import register, subscribe
from tests.hub.helpers import (
    FEED,
    FEED_FULL,
    PREF_KEY,
    PREF_KID,
    FixedClock,
    HubApi,
    bearer,
    cfa_key,
    make_notice,
    signed,
)

ALIASED = """query Page($a: Int!) { __typename page: notices(after: $a, first: 2) {
  __typename more: hasMore lastSeq scannedTo
  items { __typename n: seq expired status receipt { payload } envelope { __typename signature } }
} keys: keySet { protected } }"""
KEYSET_ONLY = "{ keySet { protected payload signature } }"
DEFAULTS = "{ notices { lastSeq hasMore items { seq } } }"
BENCH_FEED = """query Feed($after: Int!) { notices(after: $after, first: 10) {
  scannedTo items { seq envelope { protected payload signature } receipt { protected payload signature } } } }"""

AREAS = [["00"], ["23"], ["13"], ["23235"], ["23100"], ["13101", "23235"], ["01"], ["23"]]


async def publish_mixed(api: HubApi) -> None:
    for areas in AREAS:
        if all(area.startswith("23") for area in areas):
            envelope = signed(
                make_notice(publisher="pref-23", area=areas), kid=PREF_KID, key=PREF_KEY
            )
        else:
            envelope = signed(make_notice(area=areas))
        assert (await api.publish(envelope))["__typename"] == "PublishAccepted"


def requests() -> list[tuple[str, dict[str, Any] | None]]:
    cases: list[tuple[str, dict[str, Any] | None]] = []
    for after in (0, 1, 3, 7, 8, 20):
        for first in (1, 2, 3, 100):
            cases.append((FEED, {"after": after, "first": first}))
            cases.append((FEED_FULL, {"after": after, "first": first}))
        cases.append((FEED_QUERY, {"after": after, "first": 2}))
        cases.append((ALIASED, {"a": after}))
        cases.append((BENCH_FEED, {"after": after}))
    cases += [(KEYSET_ONLY, None), (DEFAULTS, None)]
    # answered by the GraphQL path (errors): the same answers either way
    cases += [
        (FEED, {"after": -1, "first": 1}),
        (FEED, {"after": 0, "first": 0}),
        (FEED, {"after": 0, "first": 5000}),
        (FEED, {"after": "0", "first": 1}),
        (FEED, {"after": 0}),
        ("{ notices { nope } }", None),
    ]
    return cases


async def answers(api: HubApi, credential: str) -> list[tuple[int, Any]]:
    out = []
    for query, variables in requests():
        response = await api.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=bearer(credential)
        )
        out.append((response.status_code, response.json()))
    return out


async def test_direct_answers_equal_the_graphql_path_over_sql(
    api: HubApi, registered: HubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    await publish_mixed(api)
    tokyo = await subscribe(registered, "13101", "千代田区")
    served: list[bool] = []
    original = DirectFeed.answer

    async def counting(self: DirectFeed, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        served.append(result is not None)
        return result

    monkeypatch.setattr(DirectFeed, "answer", counting)
    fast = {cred: await answers(api, cred) for cred in (tokyo, *api_credential(api))}
    assert sum(served) >= 2 * 60  # most requests took the direct path
    assert not all(served)  # the error cases did not

    async def never(self: DirectFeed, *args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(DirectFeed, "answer", never)
    monkeypatch.setattr(FeedWindows, "covers", lambda self, **_: False)  # pure SQL pages
    reference = {cred: await answers(api, cred) for cred in fast}
    for cred, got in fast.items():
        for (query, variables), mine, theirs in zip(requests(), got, reference[cred], strict=True):
            assert mine == theirs, (query, variables)


def api_credential(api: HubApi) -> list[str]:
    authorization = api.http.headers["authorization"]
    return [authorization.split(" ", 1)[1]]


@pytest.fixture
async def limited_app(settings: HubSettings) -> AsyncIterator[FastAPI]:
    limited = settings.model_copy(update={"rate_read_per_second": 0.001, "rate_read_burst": 5})
    application = create_app(limited, clock=FixedClock(), ticker=lambda: 1000.0)
    async with application.router.lifespan_context(application):
        await register(application.state.hub, cfa_key())
        yield application


async def test_a_direct_read_costs_one_token_also_when_refused(limited_app: FastAPI) -> None:
    credential = await subscribe(limited_app.state.hub)
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        api = HubApi(http)
        for _ in range(5):
            page = await api.graphql(FEED, {"after": 0, "first": 1}, bearer(credential))
            assert page == {"data": {"notices": {"lastSeq": 0, "hasMore": False, "items": []}}}
        limited = await http.post(
            "/graphql",
            json={"query": FEED, "variables": {"after": 0, "first": 1}},
            headers=bearer(credential),
        )
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # an unknown credential: refused by the GraphQL path, one token each, not two
        for _ in range(5):
            body = await api.graphql(FEED, {"after": 0, "first": 1}, bearer("nobody"))
            assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        again = await http.post(
            "/graphql",
            json={"query": FEED, "variables": {"after": 0, "first": 1}},
            headers=bearer("nobody"),
        )
        assert again.status_code == 429


async def test_concurrent_reads_share_queries_and_suspension_still_counts(
    registered: HubState,
) -> None:
    credentials = [await subscribe(registered, f"23{100 + n:03d}", f"町{n}") for n in range(12)]
    async with registered.transaction() as session:
        await set_suspended(
            session, municipality="23100", suspended=True, now=registered.clock.now()
        )
    authenticator = FeedAuthenticator(max_batch=5)
    results = await asyncio.gather(
        *(
            authenticator.check(registered.transaction, authorization=f"Bearer {c}")
            for c in [*credentials, "unknown"]
        )
    )
    municipalities = [subscriber.municipality if subscriber else None for subscriber, _ in results]
    assert municipalities == [None, *[f"23{100 + n:03d}" for n in range(1, 12)], None]
    assert {last_seq for _, last_seq in results} == {0}
    assert authenticator.batches < 13
    assert await authenticator.check(registered.transaction, authorization="Basic x") == (
        None,
        None,
    )


async def test_a_window_is_loaded_once_for_concurrent_readers() -> None:
    windows = FeedWindows(max_span=10)
    loads = 0
    gate = asyncio.Event()

    async def load() -> list[Any]:
        nonlocal loads
        loads += 1
        await gate.wait()
        return []

    readers = [asyncio.create_task(windows.rows(load, after=4, up_to=5)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*readers) == [()] * 20
    assert loads == 1
    assert await windows.rows(load, after=4, up_to=5) == ()
    assert loads == 1
    assert await windows.rows(load, after=5, up_to=5) == ()  # empty range: no load at all
    assert loads == 1
    assert not windows.covers(after=0, up_to=11)
