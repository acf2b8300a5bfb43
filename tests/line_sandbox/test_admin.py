"""The /sandbox admin API: channels, deterministic residents, inbox, stats, exchanges."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from line_sandbox.residents import simulated_user_id
from tests.line_sandbox.conftest import AUTH, CHANNEL
from tests.line_sandbox.helpers import http, post, text, user


def test_simulated_user_id_is_the_documented_hash() -> None:
    expected = "U" + hashlib.sha256(b"aichi-town:7").hexdigest()[:32]
    assert simulated_user_id("aichi-town", 7) == expected
    assert simulated_user_id("aichi-town", 7) != simulated_user_id("aichi-town", 8)


def test_channel_created_through_admin_api_serves_the_line_api(sandbox_server: str) -> None:
    created = http().post(
        f"{sandbox_server}/sandbox/channels",
        json={"name": "town-b", "channel_secret": "sb", "channel_access_token": "tb"},
    )
    assert created.status_code == 200
    body = created.json()
    assert body["channel_id"].isdigit() and len(body["channel_id"]) == 10
    assert body["bot_user_id"].startswith("U") and len(body["bot_user_id"]) == 33
    friends = http().post(f"{sandbox_server}/sandbox/channels/town-b/friends", json={"count": 3})
    assert friends.json() == {
        "user_ids_sample": [simulated_user_id("town-b", i) for i in range(3)],
        "count": 3,
        "created": 3,
    }
    info = http().get(f"{sandbox_server}/v2/bot/info", headers={"Authorization": "Bearer tb"})
    assert info.json()["userId"] == body["bot_user_id"]
    followers = http().get(
        f"{sandbox_server}/v2/bot/followers/ids", headers={"Authorization": "Bearer tb"}
    )
    assert followers.json() == {"userIds": [simulated_user_id("town-b", i) for i in range(3)]}


def test_friends_is_idempotent_and_only_grows(sandbox_server: str) -> None:
    url = f"{sandbox_server}/sandbox/channels/{CHANNEL}/friends"
    again = http().post(url, json={"count": 5}).json()
    more = http().post(url, json={"count": 7}).json()
    fewer = http().post(url, json={"count": 2}).json()
    assert (again["count"], again["created"]) == (5, 0)
    assert (more["count"], more["created"]) == (7, 2)
    assert (fewer["count"], fewer["created"]) == (7, 0)
    assert more["user_ids_sample"][:7] == [user(i) for i in range(7)]


def test_creating_the_same_channel_twice_is_idempotent_but_conflicts_differ(
    sandbox_server: str,
) -> None:
    body = {"name": "dup", "channel_secret": "s", "channel_access_token": "dup-token"}
    first = http().post(f"{sandbox_server}/sandbox/channels", json=body)
    same = http().post(f"{sandbox_server}/sandbox/channels", json=body)
    other = http().post(
        f"{sandbox_server}/sandbox/channels", json={**body, "channel_access_token": "x"}
    )
    token_taken = http().post(
        f"{sandbox_server}/sandbox/channels",
        json={"name": "dup2", "channel_secret": "s", "channel_access_token": "dup-token"},
    )
    assert (first.json()["created"], same.json()["created"]) == (True, False)
    assert other.status_code == 409 and other.json()["error"] == "channel_exists"
    assert token_taken.status_code == 409 and token_taken.json()["error"] == "token_in_use"


def test_unknown_channel_and_user_are_404(sandbox_server: str) -> None:
    assert http().get(f"{sandbox_server}/sandbox/channels/nope/stats").status_code == 404
    response = http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/follow", json={"user_ids": ["U" + "0" * 32]}
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_user"


def test_patch_sets_the_webhook_url_later(sandbox_server: str) -> None:
    response = http().patch(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}",
        json={"webhook_url": "http://127.0.0.1:9/callback", "multicast_rate_per_second": 50},
    )
    assert response.json()["webhook_url"] == "http://127.0.0.1:9/callback"
    assert response.json()["multicast_rate_per_second"] == 50


def test_inbox_lists_each_request_with_retry_key_and_stats_count_recipients(
    sandbox_server: str,
) -> None:
    key = "123e4567-e89b-12d3-a456-426614174000"
    post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0), user(1)], "messages": [text("一")]},
        **{"X-Line-Retry-Key": key},
    )
    post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text("二")]})
    box = (
        http()
        .get(f"{sandbox_server}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user(0)})
        .json()
    )
    assert box["user_id"] == user(0) and box["friend"] is True and box["count"] == 2
    assert [(m["endpoint"], m["retry_key"], m["messages"]) for m in box["messages"]] == [
        ("multicast", key, [{"type": "text", "text": "一"}]),
        ("push", None, [{"type": "text", "text": "二"}]),
    ]
    stats = http().get(f"{sandbox_server}/sandbox/channels/{CHANNEL}/stats").json()
    assert stats["accepted_requests"] == 2
    assert stats["delivered_recipients"] == 3
    assert stats["per_user_counts_histogram"] == {"0": 3, "1": 1, "2": 1}
    assert stats["requests_by_endpoint"] == {"multicast": 1, "push": 1}


def test_bench_mode_keeps_counts_without_inboxes(make_sandbox: Callable[..., str]) -> None:
    base = make_sandbox(record_inboxes=False, friends=1000)
    post(
        base,
        "/v2/bot/message/multicast",
        {"to": [user(i) for i in range(500)], "messages": [text()]},
    )
    stats = http().get(f"{base}/sandbox/channels/{CHANNEL}/stats").json()
    assert stats["per_user_counts_histogram"] == {"0": 500, "1": 500}
    box = http().get(f"{base}/sandbox/channels/{CHANNEL}/inbox", params={"user_id": user(0)}).json()
    assert box["count"] == 1 and box["messages"] == []


def test_exchanges_record_raw_calls_with_authorization_redacted(sandbox_server: str) -> None:
    post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text("記録")]})
    http().get(f"{sandbox_server}/v2/bot/info")
    records = http().get(f"{sandbox_server}/sandbox/exchanges").json()
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("POST", "/v2/bot/message/push", 200),
        ("GET", "/v2/bot/info", 401),
    ]
    push = records[0]
    assert push["request_headers"]["authorization"] == "Bearer ***"
    assert AUTH["Authorization"] not in str(records)
    assert '"記録"' in push["request_body"]
    assert push["response_headers"]["x-line-request-id"]
    assert "sentMessages" in push["response_body"]
    later = http().get(f"{sandbox_server}/sandbox/exchanges", params={"since": records[0]["id"]})
    assert [r["id"] for r in later.json()] == [records[1]["id"]]


def test_exchange_log_is_a_capped_ring_buffer(make_sandbox: Callable[..., str]) -> None:
    base = make_sandbox(exchanges_capacity=3)
    for _ in range(5):
        http().get(f"{base}/v2/bot/info", headers=AUTH)
    records = http().get(f"{base}/sandbox/exchanges").json()
    assert [r["id"] for r in records] == [3, 4, 5]
