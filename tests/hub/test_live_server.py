"""The hub on a real uvicorn server on loopback: the publisher client, concurrency, limits."""

from __future__ import annotations

import asyncio

import httpx

from contracts.errors import RejectionCode
from hub.publishers.client import BULK_NOTICES, publish, submit_envelope, submit_envelopes
from hub.publishers.schemas import PublishAccepted, PublishRejected
from hub.settings import HubSettings
from hub.state import HubState
from tests.hub.conftest import LiveServer, register_with_own_engine, subscribe_with_own_engine
from tests.hub.helpers import (
    CFA_KEY,
    CFA_KID,
    FixedClock,
    HubApi,
    bearer,
    cfa_key,
    make_notice,
    pref_key,
    signed,
)


async def test_client_signs_locally_and_hub_accepts(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, _ = live_hub
    await register_with_own_engine(settings, cfa_key(), clock)
    notice = make_notice()
    envelope, result = await publish(notice, kid=CFA_KID, private_key=CFA_KEY, hub_url=server.url)
    assert isinstance(result, PublishAccepted)
    assert (result.seq, result.notice_id, result.duplicate) == (1, notice["notice_id"], False)
    again = await submit_envelope(envelope, hub_url=server.url + "/graphql")
    assert isinstance(again, PublishAccepted)
    assert (again.seq, again.duplicate) == (1, True)


async def test_client_reports_rejection_code(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, _ = live_hub
    await register_with_own_engine(settings, pref_key(), clock)
    _, result = await publish(
        make_notice(), kid="gov-cfa/none", private_key=CFA_KEY, hub_url=server.url
    )
    assert isinstance(result, PublishRejected)
    assert result.code is RejectionCode.UNKNOWN_KEY


async def test_twenty_parallel_publishes_get_seqs_1_to_20(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, _ = live_hub
    await register_with_own_engine(settings, cfa_key(), clock)
    credential = await subscribe_with_own_engine(settings)
    envelopes = [signed(make_notice()) for _ in range(20)]
    async with httpx.AsyncClient(
        base_url=server.url, timeout=60, headers=bearer(credential)
    ) as http:
        results = await asyncio.gather(
            *(submit_envelope(e, hub_url=server.url, http=http) for e in envelopes)
        )
        assert all(isinstance(r, PublishAccepted) for r in results)
        seqs = sorted(r.seq for r in results if isinstance(r, PublishAccepted))
        assert seqs == list(range(1, 21))
        feed = await HubApi(http).feed()
    assert [item["seq"] for item in feed["items"]] == list(range(1, 21))
    assert feed["lastSeq"] == 20
    by_seq = {r.seq: r.digest for r in results if isinstance(r, PublishAccepted)}
    assert len(set(by_seq.values())) == 20


async def test_parallel_copies_of_one_notice_store_it_once(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, _ = live_hub
    await register_with_own_engine(settings, cfa_key(), clock)
    credential = await subscribe_with_own_engine(settings)
    envelope = signed(make_notice())
    async with httpx.AsyncClient(
        base_url=server.url, timeout=60, headers=bearer(credential)
    ) as http:
        results = await asyncio.gather(
            *(submit_envelope(envelope, hub_url=server.url, http=http) for _ in range(10))
        )
        feed = await HubApi(http).feed()
    accepted = [r for r in results if isinstance(r, PublishAccepted)]
    assert len(accepted) == 10
    assert {r.seq for r in accepted} == {1}
    assert sum(not r.duplicate for r in accepted) == 1
    assert feed["lastSeq"] == 1


async def test_body_over_limit_is_413_on_real_server(
    live_hub: tuple[LiveServer, HubState],
) -> None:
    server, _ = live_hub
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            content=b'{"query": "' + b"x" * 300_000 + b'"}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


async def test_a_bulk_submission_is_split_within_the_hub_limits_and_keeps_its_order(
    live_hub: tuple[LiveServer, HubState], settings: HubSettings, clock: FixedClock
) -> None:
    server, _ = live_hub
    await register_with_own_engine(settings, cfa_key(), clock)
    envelopes = [signed(make_notice()) for _ in range(BULK_NOTICES + 7)]
    envelopes.append(envelopes[3])  # a duplicate, answered with the first one's seq
    results = await submit_envelopes(envelopes, hub_url=server.url)
    assert len(results) == len(envelopes)
    seqs = [r.seq for r in results if isinstance(r, PublishAccepted)]
    assert seqs == [*range(1, BULK_NOTICES + 8), 4]  # in order, across two requests
    assert isinstance(results[-1], PublishAccepted) and results[-1].duplicate
