"""Two hub processes sharing one PostgreSQL: a publish on replica A wakes subscribers connected
to replica B (LISTEN/NOTIFY), B serves the notice, and a restart of both loses nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contracts.jws import SignedEnvelope
from contracts.keys import public_key_from_jwk
from contracts.verify import KeySetLookup, verify_keyset, verify_notice, verify_receipt
from tests.e2e.conftest import Federation, connect_tenant, register_subscriber
from tests.e2e.helpers import FRIENDS, NOT_FRIENDS, mixed_population, signed, wait_until
from tests.fixtures.database import backend
from tests.hub.subscribers import live_client
from todoke.demo.notices import genkyo_todoke_notice
from todoke.demo.processes import Service, run_cli, start_service

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql",
        reason="hub replicas share one PostgreSQL (LISTEN/NOTIFY); SQLite runs one hub process "
        "— run with TODOKE_TEST_DB=postgresql",
    ),
]

PUBLISH = """
mutation($envelope: SignedEnvelopeInput!) {
  publishNotice(envelope: $envelope) {
    __typename ... on PublishAccepted { seq } ... on PublishRejected { code message }
  }
}
"""
FEED = """
query($after: Int!) {
  notices(after: $after, first: 1000) {
    lastSeq scannedTo hasMore
    items { seq status expired envelope { protected payload signature }
            receipt { protected payload signature } }
  }
}
"""


def start_hub(fed: Federation, name: str) -> Service:
    service = start_service(name, ["hub", "serve"], env=fed.hub_env, workdir=fed.workdir)
    fed.services.append(service)
    return service


async def publish(url: str, envelope: SignedEnvelope) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(
            "/graphql", json={"query": PUBLISH, "variables": {"envelope": envelope.model_dump()}}
        )
    result = response.json()["data"]["publishNotice"]
    assert result["__typename"] == "PublishAccepted", result
    seq: int = result["seq"]
    return seq


def read_feed(url: str, credential: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": FEED, "variables": {"after": 0}},
        headers={"Authorization": f"Bearer {credential}"},
        timeout=30,
    )
    body = response.json()
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["notices"]
    return page


def verify_like_a_node(fed: Federation, url: str, page: dict[str, Any]) -> list[str]:
    """Verify every item against the key set served by ``url`` and the pinned root key."""
    root = json.loads(run_cli(["hub", "root-key"], env=fed.hub_env).stdout)
    root_keys = {root["kid"]: public_key_from_jwk(root["jwk"])}
    body = httpx.post(
        f"{url}/graphql", json={"query": "{ keySet { protected payload signature } }"}, timeout=30
    ).json()
    now = datetime.now(UTC)
    keyset = verify_keyset(SignedEnvelope(**body["data"]["keySet"]), root_keys=root_keys, now=now)
    ids = []
    for item in page["items"]:
        receipt = verify_receipt(SignedEnvelope(**item["receipt"]), root_keys=root_keys)
        assert receipt.seq == item["seq"]
        verified = verify_notice(
            SignedEnvelope(**item["envelope"]),
            keys=KeySetLookup(keyset),
            received_at=receipt.received_at,
            now=now,
        )
        ids.append(verified.notice.notice_id)
    return ids


async def test_publish_on_replica_a_wakes_subscriber_on_replica_b_within_a_second(
    federation: Federation,
) -> None:
    fed = federation
    credential = register_subscriber(fed)
    hub_a = start_hub(fed, "hub-a")
    hub_b = start_hub(fed, "hub-b")
    ws = await live_client.subscribe(hub_b.url, credential)
    try:
        time.sleep(0.3)  # let B's subscription task register (the ping/pong already returned)
        notice = genkyo_todoke_notice(datetime.now(UTC))
        envelope = signed(notice, fed.key("gov-cfa"), "gov-cfa/t1")
        started = time.monotonic()
        seq = await publish(hub_a.url, envelope)
        hint = await live_client.next_hint(ws, timeout=5)
        elapsed = time.monotonic() - started
    finally:
        await ws.close()
    assert hint == seq == 1
    assert elapsed < 1.0, f"hint took {elapsed:.3f}s"

    page_b = read_feed(hub_b.url, credential)
    assert [item["seq"] for item in page_b["items"]] == [1]
    assert verify_like_a_node(fed, hub_b.url, page_b) == [notice["notice_id"]]

    # a second notice, published on B this time, wakes a subscriber on A
    ws_a = await live_client.subscribe(hub_a.url, credential)
    try:
        time.sleep(0.3)
        second = await publish(
            hub_b.url,
            signed(genkyo_todoke_notice(datetime.now(UTC)), fed.key("gov-cfa"), "gov-cfa/t1"),
        )
        assert await live_client.next_hint(ws_a, timeout=5) == second == 2
    finally:
        await ws_a.close()

    # restart both replicas: the feed is the same, byte for byte
    before = read_feed(hub_a.url, credential)
    assert before == read_feed(hub_b.url, credential)
    for service in (hub_a, hub_b):
        service.stop()
    hub_a = start_hub(fed, "hub-a")
    hub_b = start_hub(fed, "hub-b")
    assert read_feed(hub_a.url, credential) == before
    assert read_feed(hub_b.url, credential) == before
    ws = await live_client.subscribe(hub_b.url, credential)
    try:
        time.sleep(0.3)
        third = await publish(
            hub_a.url,
            signed(genkyo_todoke_notice(datetime.now(UTC)), fed.key("gov-cfa"), "gov-cfa/t1"),
        )
        assert await live_client.next_hint(ws, timeout=5) == third == 3
    finally:
        await ws.close()


def test_node_connected_to_replica_b_relays_a_notice_published_on_replica_a(
    federation: Federation, tmp_path: Any
) -> None:
    fed = federation
    fed.start("sandbox")
    hub_a = start_hub(fed, "hub-a")
    fed.hub = start_hub(fed, "hub-b")  # the node talks to B only
    mixed_population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", FRIENDS, NOT_FRIENDS)
    notice = genkyo_todoke_notice(datetime.now(UTC))
    started = time.monotonic()
    envelope = signed(notice, fed.key("gov-cfa"), "gov-cfa/t1")
    response = httpx.post(
        f"{hub_a.url}/graphql",
        json={"query": PUBLISH, "variables": {"envelope": envelope.model_dump()}},
        timeout=30,
    )
    assert response.json()["data"]["publishNotice"]["__typename"] == "PublishAccepted"

    def relayed() -> bool:
        return any(
            item["notice_id"] == notice["notice_id"] and item["state"] == "done"
            for item in fed.node_status()
        )

    wait_until("the node on replica B to relay the notice", relayed, timeout=60)
    assert time.monotonic() - started < 60
