"""Publishing through the GraphQL API: every rejection code reachable today, and what is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.canonical import canonicalize
from contracts.jws import TYP_NOTICE, SignedEnvelope, sign_bytes
from contracts.keys import b64url_decode, b64url_encode
from hub.publishers.models import Alarm, StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.state import HubState
from tests.hub.conftest import register
from tests.hub.helpers import (
    CFA_KEY,
    CFA_KID,
    NOW,
    PREF_KEY,
    PREF_KID,
    HubApi,
    cfa_key,
    follow_up,
    make_notice,
    new_ulid,
    signed,
)


async def stored_count(state: HubState) -> int:
    async with state.transaction() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(StoredNotice)) or 0)


async def assert_rejected(
    api: HubApi, state: HubState, envelope: SignedEnvelope, code: str
) -> dict[str, Any]:
    feed_before = await api.feed()
    count_before = await stored_count(state)
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishRejected", result
    assert result["code"] == code, result
    assert result["message"]
    assert await api.feed() == feed_before
    assert await stored_count(state) == count_before
    return result


def with_header(header: bytes, notice: dict[str, Any], key: Any = CFA_KEY) -> SignedEnvelope:
    return sign_bytes(protected=header, payload=canonicalize(notice), private_key=key)


async def test_valid_notice_is_accepted_with_seq_and_receipt(
    api: HubApi, registered: HubState
) -> None:
    notice = make_notice()
    envelope = signed(notice)
    result = await api.publish(envelope)
    assert result["__typename"] == "PublishAccepted"
    assert result["seq"] == 1
    assert result["publisher"] == "gov-cfa"
    assert result["noticeId"] == notice["notice_id"]
    assert result["duplicate"] is False
    feed = await api.feed()
    assert feed["lastSeq"] == 1
    [item] = feed["items"]
    assert item["envelope"] == envelope.model_dump()
    assert item["receipt"] == result["receipt"]


@pytest.mark.parametrize(
    "header",
    [
        b"not json",
        b'{"alg":"Ed25519","kid":"gov-cfa/2026a"}',
        b'{"alg":"Ed25519","kid":"gov-cfa/2026a","typ":"todoke-receipt+jws"}',
        b'{"alg":"Ed25519","kid":"gov-cfa","typ":"todoke-notice+jws"}',
        b'{"alg":"Ed25519","kid":"gov-cfa/2026a","typ":"todoke-notice+jws","jwk":{}}',
    ],
    ids=["not-json", "no-typ", "wrong-typ", "bad-kid", "extra-member"],
)
async def test_malformed_header_is_bad_envelope(
    api: HubApi, registered: HubState, header: bytes
) -> None:
    await assert_rejected(api, registered, with_header(header, make_notice()), "BAD_ENVELOPE")


async def test_non_base64url_parts_are_bad_envelope(api: HubApi, registered: HubState) -> None:
    good = signed(make_notice())
    for changes in ({"payload": good.payload + "==="}, {"signature": "!!" + good.signature}):
        envelope = good.model_copy(update=changes)
        await assert_rejected(api, registered, envelope, "BAD_ENVELOPE")


@pytest.mark.parametrize("alg", ["none", "HS256", "EdDSA", "ed25519"])
async def test_any_alg_but_ed25519_is_bad_alg(api: HubApi, registered: HubState, alg: str) -> None:
    header = canonicalize({"alg": alg, "kid": CFA_KID, "typ": TYP_NOTICE})
    envelope = with_header(header, make_notice())
    if alg == "none":
        envelope = envelope.model_copy(update={"signature": ""})
    await assert_rejected(api, registered, envelope, "BAD_ALG")


async def test_unregistered_kid_is_unknown_key(api: HubApi, registered: HubState) -> None:
    envelope = signed(make_notice(), kid="gov-cfa/other")
    await assert_rejected(api, registered, envelope, "UNKNOWN_KEY")


async def test_key_not_yet_valid_at_sent_is_key_not_valid(api: HubApi, hub_state: HubState) -> None:
    await register(hub_state, cfa_key(not_before=NOW + timedelta(days=1)))
    await assert_rejected(api, hub_state, signed(make_notice()), "KEY_NOT_VALID")


async def test_key_expired_at_sent_is_key_not_valid(api: HubApi, hub_state: HubState) -> None:
    await register(
        hub_state,
        cfa_key(not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=1)),
    )
    await assert_rejected(api, hub_state, signed(make_notice()), "KEY_NOT_VALID")


async def test_revoked_key_is_key_revoked(api: HubApi, registered: HubState) -> None:
    async with registered.transaction() as session:
        assert await PublisherRepository(session).set_key_revoked(CFA_KID, NOW - timedelta(hours=1))
    await assert_rejected(api, registered, signed(make_notice()), "KEY_REVOKED")


async def test_notice_claiming_another_publisher_is_wrong_publisher(
    api: HubApi, registered: HubState
) -> None:
    # A valid signature by pref-23's key on a notice claiming gov-cfa.
    envelope = signed(make_notice(area=["23"]), kid=PREF_KID, key=PREF_KEY)
    await assert_rejected(api, registered, envelope, "WRONG_PUBLISHER")


def _reencode(text: str, change: Any) -> str:
    return b64url_encode(change(b64url_decode(text)))


@pytest.mark.parametrize("part", ["protected", "payload", "signature"])
async def test_changed_byte_is_bad_signature(api: HubApi, registered: HubState, part: str) -> None:
    good = signed(make_notice())
    changes = {
        # same meaning, one byte different: any member order is allowed, so swap two bytes' worth
        "protected": lambda b: b.replace(b'"alg":', b'"alg" :'),
        # the headline's last character differs by one bit
        "payload": lambda b: b.replace("🌸".encode(), "🌹".encode()),
        "signature": lambda b: bytes([b[0] ^ 0x01]) + b[1:],
    }
    changed = _reencode(getattr(good, part), changes[part])
    assert changed != getattr(good, part)
    envelope = good.model_copy(update={part: changed})
    await assert_rejected(api, registered, envelope, "BAD_SIGNATURE")


async def test_signed_non_canonical_payload_is_not_canonical(
    api: HubApi, registered: HubState
) -> None:
    payload = json.dumps(make_notice(), ensure_ascii=False, indent=1).encode()
    header = canonicalize({"alg": "Ed25519", "kid": CFA_KID, "typ": TYP_NOTICE})
    envelope = sign_bytes(protected=header, payload=payload, private_key=CFA_KEY)
    await assert_rejected(api, registered, envelope, "NOT_CANONICAL")


@pytest.mark.parametrize(
    "changes",
    [{"unknown_member": "x"}, {"area": []}, {"revision": 2}, {"sent": "2026-04-01T09:00:00"}],
    ids=["unknown-member", "no-area", "alert-revision-2", "no-offset"],
)
async def test_schema_violation_is_schema_invalid(
    api: HubApi, registered: HubState, changes: dict[str, Any]
) -> None:
    await assert_rejected(api, registered, signed(make_notice(**changes)), "SCHEMA_INVALID")


@pytest.mark.parametrize(
    "changes",
    [{"area": ["13"]}, {"area": ["23235", "13101"]}, {"area": ["00"]}, {"category": "procedure"}],
    ids=["other-prefecture", "one-area-outside", "whole-country", "category"],
)
async def test_outside_key_scope_is_scope_denied(
    api: HubApi, registered: HubState, changes: dict[str, Any]
) -> None:
    # pref-23's key covers area 23 and category benefit only.
    notice = make_notice(**{"publisher": "pref-23", "area": ["23235"], **changes})
    envelope = signed(notice, kid=PREF_KID, key=PREF_KEY)
    await assert_rejected(api, registered, envelope, "SCOPE_DENIED")


async def test_same_notice_twice_is_idempotent_duplicate(api: HubApi, registered: HubState) -> None:
    envelope = signed(make_notice())
    first = await api.publish(envelope)
    await api.publish(signed(make_notice()))
    feed_before = await api.feed()
    again = await api.publish(envelope)
    assert again["__typename"] == "PublishAccepted"
    assert again["duplicate"] is True
    assert again["seq"] == first["seq"] == 1
    assert again["receipt"] == first["receipt"]
    assert again["digest"] == first["digest"]
    assert await api.feed() == feed_before
    assert await stored_count(registered) == 2


async def test_same_id_different_content_is_equivocation_with_alarm(
    api: HubApi, registered: HubState, caplog: pytest.LogCaptureFixture
) -> None:
    notice = make_notice()
    first = await api.publish(signed(notice))
    forged = dict(notice, content={"ja": {"headline": "別の内容", "body": "別の本文"}})
    await assert_rejected(api, registered, signed(forged), "EQUIVOCATION")
    async with registered.transaction() as session:
        [alarm] = (await session.scalars(sa.select(Alarm))).all()
    assert alarm.kind == "EQUIVOCATION"
    assert (alarm.publisher_id, alarm.notice_id) == ("gov-cfa", notice["notice_id"])
    assert alarm.stored_digest == first["digest"]
    assert alarm.received_digest != first["digest"]
    warnings = [r for r in caplog.records if "EQUIVOCATION" in r.getMessage()]
    assert len(warnings) == 1
    assert "別の" not in warnings[0].getMessage()


async def test_update_and_cancel_of_stored_notice_are_accepted(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await api.publish(alert_env)
    update = follow_up(alert, alert_env)
    update_env = signed(update)
    assert (await api.publish(update_env))["seq"] == 2
    cancel = follow_up(update, update_env, msg_type="Cancel")
    assert (await api.publish(signed(cancel)))["seq"] == 3


async def test_reference_to_unknown_notice_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)  # never published
    await assert_rejected(api, registered, signed(follow_up(alert, alert_env)), "BAD_REFERENCE")


async def test_reference_to_another_document_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await api.publish(alert_env)
    update = follow_up(alert, alert_env, document_id=new_ulid())
    await assert_rejected(api, registered, signed(update), "BAD_REFERENCE")


async def test_reference_with_wrong_digest_is_bad_reference(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await api.publish(alert_env)
    update = follow_up(alert, alert_env)
    update["references"][0]["digest"] = "0" * 64
    await assert_rejected(api, registered, signed(update), "BAD_REFERENCE")


async def test_second_update_at_same_revision_is_stale_revision(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    alert_env = signed(alert)
    await api.publish(alert_env)
    await api.publish(signed(follow_up(alert, alert_env)))  # revision 2
    fork = follow_up(alert, alert_env)  # another revision 2 of the same document
    await assert_rejected(api, registered, signed(fork), "STALE_REVISION")


async def test_new_alert_for_existing_document_is_stale_revision(
    api: HubApi, registered: HubState
) -> None:
    alert = make_notice()
    await api.publish(signed(alert))
    again = make_notice(document_id=alert["document_id"])
    await assert_rejected(api, registered, signed(again), "STALE_REVISION")


async def test_envelope_over_64_kib_is_too_large(api: HubApi, registered: HubState) -> None:
    good = signed(make_notice())
    big = good.model_copy(update={"payload": "A" * 70_000})
    result = await assert_rejected(api, registered, big, "TOO_LARGE")
    assert "65536" in result["message"]


async def test_http_body_over_limit_is_413_graphql_error(api: HubApi, registered: HubState) -> None:
    feed_before = await api.feed()
    envelope = {"protected": "x", "payload": "A" * 300_000, "signature": "y"}
    response = await api.http.post(
        "/graphql",
        json={
            "query": "mutation($e: SignedEnvelopeInput!) { publishNotice(envelope: $e) { __typename } }",
            "variables": {"e": envelope},
        },
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {
                "message": "request body is larger than 262144 bytes",
                "extensions": {"code": "TOO_LARGE"},
            }
        ]
    }
    assert await api.feed() == feed_before


async def test_streamed_body_over_limit_is_413_without_content_length(
    api: HubApi, registered: HubState
) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 10_000

    response = await api.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
