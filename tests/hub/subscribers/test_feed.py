"""The feed and the key set, read the way a node reads them: verifying everything itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.errors import ContractError, RejectionCode
from contracts.jws import digest
from contracts.verify import KeySetLookup, verify_keyset, verify_notice, verify_receipt
from hub.publishers.repository import PublisherRepository
from hub.state import HubState
from tests.hub.conftest import register
from tests.hub.helpers import (
    CFA_KID,
    NOW,
    PREF_KEY,
    PREF_KID,
    ROOT_KEY,
    ROOT_KID,
    FixedClock,
    HubApi,
    cfa_key,
    envelope_of,
    make_notice,
    pref_key,
    signed,
)

ROOT_KEYS = {ROOT_KID: ROOT_KEY.public_key()}


async def publish_many(api: HubApi, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        notice = make_notice()
        result = await api.publish(signed(notice))
        assert result["__typename"] == "PublishAccepted"
        ids.append(notice["notice_id"])
    return ids


async def test_empty_feed(api: HubApi, registered: HubState) -> None:
    assert await api.feed() == {"lastSeq": 0, "hasMore": False, "items": []}


async def test_feed_is_gap_free_in_seq_order(api: HubApi, registered: HubState) -> None:
    await publish_many(api, 7)
    feed = await api.feed()
    assert [item["seq"] for item in feed["items"]] == list(range(1, 8))
    assert feed["lastSeq"] == 7
    assert feed["hasMore"] is False


async def test_paging_with_after_and_first(api: HubApi, registered: HubState) -> None:
    await publish_many(api, 5)
    pages = []
    after = 0
    while True:
        page = await api.feed(after=after, first=2)
        pages.append([item["seq"] for item in page["items"]])
        assert page["lastSeq"] == 5
        if not page["hasMore"]:
            break
        after = page["items"][-1]["seq"]
    assert pages == [[1, 2], [3, 4], [5]]
    assert await api.feed(after=5, first=2) == {"lastSeq": 5, "hasMore": False, "items": []}
    assert [i["seq"] for i in (await api.feed(after=3, first=1000))["items"]] == [4, 5]


async def test_rejected_publish_leaves_no_gap(api: HubApi, registered: HubState) -> None:
    await publish_many(api, 1)
    bad = await api.publish(signed(make_notice(area=["13"]), kid=PREF_KID, key=PREF_KEY))
    assert bad["__typename"] == "PublishRejected"
    await publish_many(api, 1)
    feed = await api.feed()
    assert [item["seq"] for item in feed["items"]] == [1, 2]


async def test_every_feed_item_verifies_with_its_receipt(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    ids = await publish_many(api, 3)
    keyset = verify_keyset(await api.key_set(), root_keys=ROOT_KEYS, now=clock.now())
    lookup = KeySetLookup(keyset)
    feed = await api.feed()
    for item, notice_id in zip(feed["items"], ids, strict=True):
        envelope = envelope_of(item["envelope"])
        receipt = verify_receipt(envelope_of(item["receipt"]), root_keys=ROOT_KEYS)
        assert receipt.hub == "aichi"
        assert receipt.seq == item["seq"]
        assert receipt.notice_id == notice_id
        assert receipt.publisher == "gov-cfa"
        assert receipt.digest == digest(envelope.payload_bytes())
        assert receipt.received_at == NOW
        verified = verify_notice(envelope, keys=lookup, received_at=receipt.received_at, now=NOW)
        assert verified.notice.notice_id == notice_id


async def test_key_set_lists_every_key_and_verifies_with_root_key(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    keyset = verify_keyset(await api.key_set(), root_keys=ROOT_KEYS, now=clock.now())
    assert keyset.hub == "aichi"
    assert keyset.issued_at == NOW
    assert keyset.valid_until == NOW + timedelta(hours=72)
    by_kid = {entry.kid: entry for entry in keyset.keys}
    assert set(by_kid) == {CFA_KID, PREF_KID}
    pref = by_kid[PREF_KID]
    assert pref.publisher == "pref-23"
    assert pref.jwk == pref_key().jwk
    assert pref.scope.area == ["23"]
    assert [c.value for c in pref.scope.category] == ["benefit"]
    assert pref.revoked_at is None


async def test_key_set_is_refused_by_a_node_pinning_another_root(
    api: HubApi, registered: HubState
) -> None:
    with pytest.raises(ContractError) as failure:
        verify_keyset(await api.key_set(), root_keys={ROOT_KID: PREF_KEY.public_key()}, now=NOW)
    assert failure.value.code is RejectionCode.BAD_SIGNATURE


async def test_key_set_is_cached_until_half_validity(
    api: HubApi, registered: HubState, clock: FixedClock
) -> None:
    first = await api.key_set()
    clock.advance(timedelta(hours=35))
    assert await api.key_set() == first
    clock.advance(timedelta(hours=1))
    renewed = await api.key_set()
    assert renewed != first
    keyset = verify_keyset(renewed, root_keys=ROOT_KEYS, now=clock.now())
    assert keyset.issued_at == NOW + timedelta(hours=36)


async def test_key_set_changes_at_once_when_registry_changes(
    api: HubApi, hub_state: HubState, clock: FixedClock
) -> None:
    await register(hub_state, pref_key())
    first = verify_keyset(await api.key_set(), root_keys=ROOT_KEYS, now=clock.now())
    assert first.keys[0].revoked_at is None
    clock.advance(timedelta(minutes=1))
    async with hub_state.transaction() as session:
        await PublisherRepository(session).set_key_revoked(PREF_KID, clock.now())
    revoked = verify_keyset(await api.key_set(), root_keys=ROOT_KEYS, now=clock.now())
    assert revoked.issued_at == clock.now()
    assert revoked.keys[0].revoked_at == clock.now()
    clock.advance(timedelta(minutes=1))
    await register(hub_state, cfa_key())
    added = verify_keyset(await api.key_set(), root_keys=ROOT_KEYS, now=clock.now())
    assert added.issued_at == clock.now()
    assert {entry.kid for entry in added.keys} == {CFA_KID, PREF_KID}
