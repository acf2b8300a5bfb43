"""Publisher services below the API: the registry's rules, the seq counter, DB constraints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from contracts.errors import RejectionCode
from hub.publishers.models import StoredNotice
from hub.publishers.registry import RegistryError, add_publisher_key, list_publishers, revoke_key
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import EnvelopeStrings, PublishAccepted, PublishRejected
from hub.publishers.service import publish_notice
from hub.state import HubState
from tests.hub.helpers import CFA_KID, NOW, cfa_key, make_notice, signed


def key_request(**changes: Any) -> dict[str, Any]:
    spec = cfa_key()
    values: dict[str, Any] = {
        "publisher_id": spec.publisher,
        "name": spec.name,
        "kid": spec.kid,
        "jwk": spec.jwk,
        "areas": spec.areas,
        "categories": spec.categories,
        "not_before": spec.not_before,
        "not_after": spec.not_after,
        "now": NOW,
    }
    values.update(changes)
    return values


async def publish(state: HubState, notice: dict[str, Any]) -> PublishAccepted | PublishRejected:
    envelope = signed(notice)
    async with state.transaction() as session:
        return await publish_notice(
            session,
            envelope=EnvelopeStrings(envelope.protected, envelope.payload, envelope.signature),
            identity=state.identity,
            now=NOW,
        )


async def test_add_publisher_key_creates_publisher_once(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        created, key = await add_publisher_key(session, **key_request())
        assert created is True
        assert key.kid == CFA_KID
        created, _ = await add_publisher_key(session, **key_request(kid="gov-cfa/2026b", name=None))
        assert created is False
    async with hub_state.transaction() as session:
        [publisher] = await list_publishers(session)
    assert publisher.id == "gov-cfa"
    assert publisher.name == "こども家庭庁"
    assert [k.kid for k in publisher.keys] == ["gov-cfa/2026a", "gov-cfa/2026b"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"publisher_id": "cfa"}, "bad publisher id"),
        ({"kid": "gov-cfa"}, "bad key id"),
        ({"kid": "pref-23/2026a"}, "does not belong to publisher gov-cfa"),
        ({"areas": ["23", "999"]}, "bad area code(s): 999"),
        ({"areas": []}, "at least one --area"),
        ({"categories": ["money"]}, "unknown category: money"),
        ({"not_after": NOW + timedelta(days=400)}, "at most 400 days"),
        ({"not_after": NOW - timedelta(days=40)}, "not-after must be after not-before"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "short"}}, "bad public key"),
        ({"jwk": {"kty": "RSA", "n": "x", "e": "AQAB"}}, "bad public key"),
        ({"name": None}, "is new: give --name"),
    ],
)
async def test_registry_refuses_bad_key_requests(
    hub_state: HubState, changes: dict[str, Any], fragment: str
) -> None:
    async with hub_state.transaction() as session:
        with pytest.raises(RegistryError) as failure:
            await add_publisher_key(session, **key_request(**changes))
    assert fragment in failure.value.message
    async with hub_state.transaction() as session:
        assert await list_publishers(session) == []


async def test_registry_refuses_a_kid_twice(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        await add_publisher_key(session, **key_request())
    async with hub_state.transaction() as session:
        with pytest.raises(RegistryError, match="already registered"):
            await add_publisher_key(session, **key_request(name=None))


async def test_revoke_unknown_key_is_refused(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        with pytest.raises(RegistryError, match="not registered"):
            await revoke_key(session, kid="gov-cfa/none", now=NOW)


async def test_seq_consumed_in_rolled_back_transaction_leaves_no_gap(
    hub_state: HubState,
) -> None:
    async with hub_state.transaction() as session:
        await add_publisher_key(session, **key_request())
    with pytest.raises(RuntimeError):
        async with hub_state.transaction() as session:
            assert await PublisherRepository(session).next_seq() == 1
            raise RuntimeError("crash after taking a seq")
    result = await publish(hub_state, make_notice())
    assert isinstance(result, PublishAccepted)
    assert result.seq == 1


async def test_rejected_publish_writes_nothing(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        await add_publisher_key(session, **key_request())
    result = await publish(hub_state, make_notice(category="health"))
    assert result == PublishRejected(RejectionCode.SCOPE_DENIED, result.message)
    async with hub_state.transaction() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(StoredNotice)) == 0
        assert await PublisherRepository(session).lock_sequence() == 0


async def test_stored_notice_keeps_exact_strings_and_metadata(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        await add_publisher_key(session, **key_request())
    notice = make_notice(status="Exercise")
    envelope = signed(notice)
    result = await publish(hub_state, notice)
    assert isinstance(result, PublishAccepted)
    async with hub_state.transaction() as session:
        row = await PublisherRepository(session).get_notice("gov-cfa", notice["notice_id"])
    assert row is not None
    assert (row.protected, row.payload, row.signature) == (
        envelope.protected,
        envelope.payload,
        envelope.signature,
    )
    assert (row.document_id, row.revision, row.msg_type, row.status) == (
        notice["document_id"],
        1,
        "Alert",
        "Exercise",
    )
    assert row.received_at == NOW
    assert row.kid == CFA_KID
    assert row.digest == result.digest
    assert row.receipt_payload == result.receipt.payload


async def test_database_refuses_second_row_for_same_notice_id(hub_state: HubState) -> None:
    async with hub_state.transaction() as session:
        await add_publisher_key(session, **key_request())
    notice = make_notice()
    result = await publish(hub_state, notice)
    assert isinstance(result, PublishAccepted)
    with pytest.raises(IntegrityError):
        async with hub_state.transaction() as session:
            row = await PublisherRepository(session).get_notice("gov-cfa", notice["notice_id"])
            assert row is not None
            clone = {c.key: getattr(row, c.key) for c in sa.inspect(StoredNotice).column_attrs}
            session.add(StoredNotice(**{**clone, "seq": 99}))
            await session.flush()
