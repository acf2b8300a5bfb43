"""A signed notice travels publisher → hub → node → LINE sandbox, with real processes."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import Federation, connect_tenant
from tests.e2e.helpers import (
    FRIENDS,
    NOT_FRIENDS,
    all_user_ids,
    inbox_counts,
    mixed_population,
    publish,
    signed,
    wait_until,
)
from tests.line_sandbox.openapi_contract import validate_exchange
from todoke.demo.notices import genkyo_todoke_notice

pytestmark = pytest.mark.e2e


def _done(fed: Federation, notice_ids: set[str]) -> bool:
    finished = {item["notice_id"] for item in fed.node_status() if item["state"] == "done"}
    return notice_ids <= finished


def test_exactly_the_matching_friends_receive_exactly_one_message(
    federation: Federation, tmp_path: Path
) -> None:
    fed = federation
    fed.start("sandbox")
    fed.start("hub")
    expected = mixed_population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", FRIENDS, NOT_FRIENDS)

    notice = genkyo_todoke_notice(datetime.now(UTC))
    output = fed.publish_file("gov-cfa", notice)
    assert "seq" in output.lower()
    wait_until("the notice to be relayed", lambda: _done(fed, {notice["notice_id"]}))

    counts = inbox_counts(fed, all_user_ids())
    assert {user for user, count in counts.items() if count > 0} == expected
    assert {counts[user] for user in expected} == {1}
    [status] = fed.node_status()
    assert (status["targeted"], status["sent"], status["failed"]) == (
        len(expected),
        len(expected),
        0,
    )


def test_everything_the_node_sends_to_line_matches_lines_openapi(
    federation: Federation, tmp_path: Path, shared_dir: Path
) -> None:
    fed = federation
    fed.start("sandbox")
    fed.start("hub")
    expected = mixed_population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", FRIENDS, NOT_FRIENDS)
    notice = genkyo_todoke_notice(datetime.now(UTC))
    fed.publish_file("gov-cfa", notice)
    wait_until("the notice to be relayed", lambda: _done(fed, {notice["notice_id"]}))

    exchanges = fed.sandbox_get("/sandbox/exchanges")
    multicasts = [e for e in exchanges if e["path"] == "/v2/bot/message/multicast"]
    assert [e["status"] for e in multicasts] == [200]
    assert set(json.loads(multicasts[0]["request_body"])["to"]) == expected
    assert multicasts[0]["request_headers"].get("x-line-retry-key")
    for exchange in exchanges:
        validate_exchange(shared_dir / "line-openapi" / "messaging-api.yml", exchange)


def test_a_tampered_envelope_is_rejected_and_reaches_nobody(
    federation: Federation, tmp_path: Path
) -> None:
    fed = federation
    fed.start("sandbox")
    hub = fed.start("hub")
    expected = mixed_population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", FRIENDS, NOT_FRIENDS)

    tampered_notice = genkyo_todoke_notice(datetime.now(UTC))
    envelope = signed(tampered_notice, fed.key("gov-cfa"), "gov-cfa/t1")
    payload = bytearray(
        base64.urlsafe_b64decode(envelope.payload + "=" * (-len(envelope.payload) % 4))
    )
    position = payload.index("現況届".encode())
    payload[position : position + 3] = "申請書".encode()[:3]  # same length, different text
    forged = envelope.model_copy(
        update={"payload": base64.urlsafe_b64encode(bytes(payload)).rstrip(b"=").decode()}
    )
    rejected = publish(hub.url, forged)
    assert (rejected["__typename"], rejected["code"]) == ("PublishRejected", "BAD_SIGNATURE")

    genuine = genkyo_todoke_notice(datetime.now(UTC))
    accepted = publish(hub.url, signed(genuine, fed.key("gov-cfa"), "gov-cfa/t1"))
    assert accepted["__typename"] == "PublishAccepted" and accepted["seq"] == 1
    wait_until("the genuine notice to be relayed", lambda: _done(fed, {genuine["notice_id"]}))

    assert [item["notice_id"] for item in fed.node_status()] == [genuine["notice_id"]]
    counts = inbox_counts(fed, all_user_ids())
    assert sum(counts.values()) == len(expected)


def test_a_node_killed_mid_feed_delivers_nothing_twice(
    federation: Federation, tmp_path: Path
) -> None:
    fed = federation
    fed.start("sandbox")
    hub = fed.start("hub")
    expected = mixed_population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", FRIENDS, NOT_FRIENDS)
    assert fed.node is not None
    notice_ids: set[str] = set()

    def publish_all() -> None:
        for _ in range(150):
            notice = genkyo_todoke_notice(datetime.now(UTC))
            result = publish(hub.url, signed(notice, fed.key("gov-cfa"), "gov-cfa/t1"))
            assert result["__typename"] == "PublishAccepted"
            notice_ids.add(notice["notice_id"])

    publisher = threading.Thread(target=publish_all)
    publisher.start()

    def partly_done() -> bool:
        states = [item["state"] for item in fed.node_status()]
        return "done" in states and len(states) < 150

    # kill -9 while the node is part-way through the feed (some notices relayed, some not)
    wait_until("the node to be part-way through the feed", partly_done, interval=0.02)
    fed.node.stop(kill=True)
    fed.services.remove(fed.node)
    fed.node = None
    fed.start("node")
    publisher.join(timeout=120)
    assert len(notice_ids) == 150

    wait_until(
        "every notice to be relayed after the restart", lambda: _done(fed, notice_ids), timeout=300
    )
    statuses = fed.node_status()
    assert len(statuses) == 150
    counts = inbox_counts(fed, all_user_ids())
    assert {counts[user] for user in expected} == {150}
    assert sum(counts.values()) == 150 * len(expected)
