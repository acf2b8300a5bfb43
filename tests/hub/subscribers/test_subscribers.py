"""Subscribers through the GraphQL API: the feed needs a credential of an active subscriber
and shows each subscriber only the notices whose area covers its municipality."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from hub.db import alembic_config, sync_url, upgrade_to_head
from hub.graphql.context import UNAUTHENTICATED_MESSAGE
from hub.settings import HubSettings
from hub.state import HubState
from hub.subscribers.models import Subscriber
from hub.subscribers.registry import (
    SubscriberError,
    add_subscriber,
    rotate_credential,
    set_suspended,
)
from tests.hub.conftest import subscribe
from tests.hub.helpers import (
    FEED,
    PREF_KEY,
    PREF_KID,
    FixedClock,
    HubApi,
    bearer,
    make_notice,
    signed,
)

TOKYO = "13101"
NAGOYA = "23100"


async def publish_areas(api: HubApi, areas: list[str], **changes: Any) -> int:
    """Publish a notice for ``areas``: gov-cfa for 00/13…, pref-23 for 23/23xxx."""
    if all(area.startswith("23") for area in areas):
        envelope = signed(
            make_notice(publisher="pref-23", area=areas, **changes), kid=PREF_KID, key=PREF_KEY
        )
    else:
        envelope = signed(make_notice(area=areas, **changes))
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishAccepted", result
    seq: int = result["seq"]
    return seq


async def unauthenticated(api: HubApi, headers: dict[str, str]) -> None:
    body = await api.graphql(FEED, {"after": 0, "first": 10}, headers)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error["message"] == UNAUTHENTICATED_MESSAGE  # the same whatever was wrong


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong-credential"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
)
async def test_feed_without_valid_credential_is_unauthenticated(
    api: HubApi, registered: HubState, headers: dict[str, str]
) -> None:
    await publish_areas(api, ["00"])
    await unauthenticated(api, headers)


async def test_feed_checks_credential_before_arguments(api: HubApi) -> None:
    body = await api.graphql("{ notices(first: 0) { lastSeq } }", None, {"Authorization": ""})
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_key_set_and_publish_need_no_credential(api: HubApi, registered: HubState) -> None:
    body = await api.graphql("{ keySet { payload } }", None, {"Authorization": ""})
    assert body["data"]["keySet"]["payload"]
    api.http.headers.pop("Authorization")
    await publish_areas(api, ["00"])


async def test_suspended_subscriber_is_unauthenticated_until_resumed(
    api: HubApi, registered: HubState, subscriber_credential: str
) -> None:
    seq = await publish_areas(api, ["00"])
    async with registered.transaction() as session:
        await set_suspended(
            session, municipality="23235", suspended=True, now=registered.clock.now()
        )
    await unauthenticated(api, bearer(subscriber_credential))
    async with registered.transaction() as session:
        await set_suspended(
            session, municipality="23235", suspended=False, now=registered.clock.now()
        )
    assert [i["seq"] for i in (await api.feed_as(subscriber_credential))["items"]] == [seq]


async def test_rotated_credential_replaces_the_old_one(
    api: HubApi, registered: HubState, subscriber_credential: str
) -> None:
    async with registered.transaction() as session:
        fresh = await rotate_credential(session, municipality="23235")
    await unauthenticated(api, bearer(subscriber_credential))
    assert (await api.feed_as(fresh))["lastSeq"] == 0


async def test_only_the_credential_digest_is_stored(
    registered: HubState, subscriber_credential: str
) -> None:
    async with registered.transaction() as session:
        row = await session.get(Subscriber, "23235")
        dump = [str(v) for v in (await session.execute(sa.select(Subscriber.__table__))).one()]
    assert row is not None
    assert row.credential_sha256 == hashlib.sha256(subscriber_credential.encode()).hexdigest()
    assert not any(subscriber_credential in value for value in dump)
    assert len(subscriber_credential) >= 43  # 32 random bytes, base64url


@pytest.mark.parametrize("code", ["2323", "232350", "48001", "00000", "abcde", "23"])
async def test_registration_refuses_bad_municipality_codes(registered: HubState, code: str) -> None:
    async with registered.transaction() as session:
        with pytest.raises(SubscriberError, match="municipality code"):
            await add_subscriber(
                session, municipality=code, name="x", node_jwk=None, now=registered.clock.now()
            )


async def test_registration_refuses_duplicates_and_bad_node_keys(
    registered: HubState, subscriber_credential: str
) -> None:
    now = registered.clock.now()
    async with registered.transaction() as session:
        with pytest.raises(SubscriberError, match="already exists"):
            await add_subscriber(session, municipality="23235", name="x", node_jwk=None, now=now)
    async with registered.transaction() as session:
        with pytest.raises(SubscriberError, match="JWK"):
            await add_subscriber(
                session, municipality=NAGOYA, name="名古屋市", node_jwk={"kty": "RSA"}, now=now
            )


async def test_each_subscriber_sees_only_notices_covering_it(
    api: HubApi, registered: HubState, subscriber_credential: str
) -> None:
    tokyo = await subscribe(registered, TOKYO, "千代田区")
    nagoya = await subscribe(registered, NAGOYA, "名古屋市")
    everywhere = await publish_areas(api, ["00"])
    aichi = await publish_areas(api, ["23"])
    yatomi_only = await publish_areas(api, ["23235"])
    tokyo_pref = await publish_areas(api, ["13"])
    two = await publish_areas(api, ["23100", "23235"])

    def seqs(page: dict[str, Any]) -> list[int]:
        return [item["seq"] for item in page["items"]]

    assert seqs(await api.feed_as(subscriber_credential)) == [everywhere, aichi, yatomi_only, two]
    assert seqs(await api.feed_as(nagoya)) == [everywhere, aichi, two]
    assert seqs(await api.feed_as(tokyo)) == [everywhere, tokyo_pref]
    for credential in (subscriber_credential, tokyo, nagoya):
        page = await api.feed_as(credential)
        assert (page["lastSeq"], page["scannedTo"], page["hasMore"]) == (5, 5, False)


async def test_a_long_run_of_foreign_notices_does_not_starve_a_page(
    api: HubApi, registered: HubState
) -> None:
    tokyo = await subscribe(registered, TOKYO, "千代田区")
    for _ in range(30):
        await publish_areas(api, ["23"])
    mine = await publish_areas(api, ["13"])
    page = await api.feed_as(tokyo, after=0, first=1)
    assert [item["seq"] for item in page["items"]] == [mine]
    assert (page["scannedTo"], page["lastSeq"], page["hasMore"]) == (31, 31, False)
    assert await api.feed_as(tokyo, after=page["scannedTo"], first=1) == {
        "items": [],
        "lastSeq": 31,
        "scannedTo": 31,
        "hasMore": False,
    }


async def test_paging_by_scanned_to_returns_each_covered_notice_once_in_order(
    api: HubApi, registered: HubState
) -> None:
    tokyo = await subscribe(registered, TOKYO, "千代田区")
    expected = []
    for index in range(12):
        if index % 3 == 0:
            expected.append(await publish_areas(api, ["00"]))
        else:
            await publish_areas(api, ["23"])
    seen: list[int] = []
    cursor = 0
    pages = 0
    while True:
        page = await api.feed_as(tokyo, after=cursor, first=2)
        pages += 1
        got = [item["seq"] for item in page["items"]]
        assert got == sorted(got) and all(seq > cursor for seq in got)
        assert all(seq <= page["scannedTo"] for seq in got)
        if page["hasMore"]:
            assert page["scannedTo"] == got[-1]
        else:
            assert page["scannedTo"] == page["lastSeq"] == 12
        seen.extend(got)
        cursor = page["scannedTo"]
        if not page["hasMore"]:
            break
    assert seen == expected == [1, 4, 7, 10]
    assert pages == 2


async def test_feed_items_carry_status_and_expired(
    api: HubApi, registered: HubState, subscriber_credential: str, clock: FixedClock
) -> None:
    actual = await publish_areas(api, ["00"], expires="2026-04-02T00:00:00Z")
    drill = await publish_areas(api, ["00"], status="Exercise")
    test = await publish_areas(api, ["23"], status="Test")
    page = await api.feed_as(subscriber_credential)
    assert [(i["seq"], i["status"], i["expired"]) for i in page["items"]] == [
        (actual, "Actual", False),
        (drill, "Exercise", False),
        (test, "Test", False),
    ]
    clock.advance(timedelta(days=1))  # now == the first notice's expires
    page = await api.feed_as(subscriber_credential)
    assert [i["expired"] for i in page["items"]] == [True, False, False]


async def test_migration_backfills_the_area_index_of_existing_notices(
    api: HubApi, registered: HubState, settings: HubSettings
) -> None:
    """Notices stored before the area index existed (revision 0001) are indexed by 0002."""
    for areas in (["00"], ["23"], ["13"], ["23100", "23235"]):
        await publish_areas(api, areas)

    def downgrade_to_0001() -> None:
        engine = sa.create_engine(sync_url(settings.database_url))
        try:
            with engine.begin() as connection:
                command.downgrade(alembic_config(connection), "0001")
        finally:
            engine.dispose()

    # in threads: the hub's own tasks (the PostgreSQL listener) keep running meanwhile
    await registered.engine.dispose()
    await asyncio.to_thread(downgrade_to_0001)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    tokyo = await subscribe(registered, TOKYO, "千代田区")
    yatomi = await subscribe(registered, "23235", "弥富市")
    assert [i["seq"] for i in (await api.feed_as(tokyo))["items"]] == [1, 3]
    assert [i["seq"] for i in (await api.feed_as(yatomi))["items"]] == [1, 2, 4]
