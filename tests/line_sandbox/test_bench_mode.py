"""Bench channels: 1,000,000 deterministic friends without per-friend objects, counters instead
of inboxes, no bodies in the exchange log — and still a faithful LINE validator."""

from __future__ import annotations

import hashlib
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from line_sandbox.roster import CountedRoster, bench_prefix, bench_user_id
from line_sandbox.store import SandboxState
from line_sandbox.validation import USER_ID_RE
from tests.line_sandbox.conftest import AUTH, CHANNEL
from tests.line_sandbox.helpers import http, new_key, text, user

NAME = "bench-town"
TOKEN = "bench-token"
BENCH_AUTH = {"Authorization": f"Bearer {TOKEN}"}
MILLION = 1_000_000
MULTICAST = "/v2/bot/message/multicast"


def create_bench(base: str, friends: int, name: str = NAME, token: str = TOKEN) -> dict[str, Any]:
    response = http().post(
        f"{base}/sandbox/channels",
        json={
            "name": name,
            "channel_secret": "bench-secret",
            "channel_access_token": token,
            "bench": True,
            "friend_count": friends,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bench_id(index: int) -> str:
    return bench_user_id(NAME, index)


def send(base: str, indexes: list[int], key: str | None = None, **extra: Any) -> httpx.Response:
    headers = {**BENCH_AUTH, **({} if key is None else {"X-Line-Retry-Key": key})}
    body = {"to": [bench_id(i) for i in indexes], "messages": [text()], **extra}
    return http().post(f"{base}{MULTICAST}", json=body, headers=headers)


def counts(base: str, **params: str) -> dict[str, Any]:
    response = http().get(f"{base}/sandbox/channels/{NAME}/counts", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_million_friends_allocate_no_per_friend_objects(
    sandbox_with_state: tuple[str, SandboxState],
) -> None:
    base, state = sandbox_with_state
    tracemalloc.start()
    try:
        created = create_bench(base, MILLION)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert created["bench"] is True and created["users"] == MILLION
    channel = state.channels[NAME]
    assert isinstance(channel.roster, CountedRoster)
    assert set(vars(channel.roster)) == {"prefix", "_count"}
    assert len(channel.friendship) == MILLION and channel.counts.itemsize == 2
    held = sys.getsizeof(channel.friendship) + sys.getsizeof(channel.counts)
    assert held < 3.2 * MILLION  # 1 byte of friendship + a 2-byte counter per friend
    assert peak < 8 * MILLION  # one str per friend alone would be > 80 MB
    assert channel.requests == [] and channel.inboxes == {}


def test_friend_ids_follow_the_documented_formula_and_page(sandbox_server: str) -> None:
    create_bench(sandbox_server, MILLION)
    url = f"{sandbox_server}/sandbox/channels/{NAME}/friend-ids"
    first = http().get(url, params={"limit": 3}).json()
    assert first["user_ids"] == [bench_id(0), bench_id(1), bench_id(2)]
    assert first["next"] == bench_id(2)
    prefix = first["formula"]["friend_id_prefix"]
    assert prefix == bench_prefix(NAME)
    assert prefix == "U" + hashlib.sha256(f"bench:{NAME}".encode()).hexdigest()[:24]
    assert bench_id(999_999) == prefix + "000f423f"
    assert all(USER_ID_RE.fullmatch(u) for u in first["user_ids"])
    second = http().get(url, params={"after": first["next"], "limit": 10_000}).json()
    assert len(second["user_ids"]) == 10_000
    assert second["user_ids"][0] == bench_id(3) and second["next"] == bench_id(10_002)
    tail = http().get(url, params={"after": bench_id(999_998)}).json()
    assert tail["user_ids"] == [bench_id(999_999)] and tail["next"] is None
    assert http().get(url, params={"limit": 10_001}).status_code == 422
    unknown = http().get(url, params={"after": "U" + "0" * 32})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_user"


def test_friend_ids_skip_residents_who_blocked(sandbox_server: str) -> None:
    create_bench(sandbox_server, 5)
    http().post(
        f"{sandbox_server}/sandbox/channels/{NAME}/unfollow", json={"user_ids": [bench_id(1)]}
    ).raise_for_status()
    page = http().get(f"{sandbox_server}/sandbox/channels/{NAME}/friend-ids").json()
    assert page["user_ids"] == [bench_id(0), bench_id(2), bench_id(3), bench_id(4)]
    assert page["next"] is None


def test_counts_deliveries_recipients_and_duplicates_across_retry_keys(
    sandbox_server: str,
) -> None:
    create_bench(sandbox_server, MILLION)
    first_key, second_key = new_key(), new_key()
    assert send(sandbox_server, list(range(500)), first_key).status_code == 200
    assert send(sandbox_server, list(range(250, 750)), second_key).status_code == 200
    repeat = send(sandbox_server, list(range(500)), first_key)
    assert repeat.status_code == 409 and repeat.headers["x-line-accepted-request-id"]
    assert counts(sandbox_server) == {
        "recipients": 750,
        "messages": 1000,
        "duplicates": 250,
        "max_per_recipient": 2,
        "requests": 2,
        "requests_by_endpoint": {"multicast": 2},
        "bench": True,
    }
    assert counts(sandbox_server, user_id=bench_id(300)) == {
        "user_id": bench_id(300),
        "friend": True,
        "count": 2,
    }
    assert counts(sandbox_server, user_id=bench_id(999_999))["count"] == 0
    missing = http().get(
        f"{sandbox_server}/sandbox/channels/{NAME}/counts", params={"user_id": "U" + "f" * 32}
    )
    assert missing.status_code == 404


def test_non_friends_and_unknown_ids_are_accepted_and_not_delivered(sandbox_server: str) -> None:
    create_bench(sandbox_server, 10)
    http().post(
        f"{sandbox_server}/sandbox/channels/{NAME}/unfollow", json={"user_ids": [bench_id(1)]}
    ).raise_for_status()
    strangers = [
        bench_id(10),  # our prefix, past the last friend
        bench_user_id("another-town", 0),
        "U" + "0" * 32,
    ]
    body = {"to": [bench_id(0), bench_id(1), *strangers, bench_id(0)], "messages": [text()]}
    response = http().post(f"{sandbox_server}{MULTICAST}", json=body, headers=BENCH_AUTH)
    assert (response.status_code, response.json()) == (200, {})
    assert counts(sandbox_server)["recipients"] == 1
    assert counts(sandbox_server)["messages"] == 1
    stats = http().get(f"{sandbox_server}/sandbox/channels/{NAME}/stats").json()
    assert stats["not_delivered_recipients"] == 4  # distinct ids: 0 (delivered), 1, 3 strangers


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"to": [bench_user_id(NAME, 0), "U" + "A" * 32]}, 400),
        ({"to": [bench_user_id(NAME, 0) + "0"]}, 400),
        ({"to": [bench_user_id(NAME, i) for i in range(501)]}, 400),
        ({"to": []}, 400),
        ({"messages": [text()] * 6}, 400),
        ({"messages": []}, 400),
        ({"customAggregationUnits": ["a", "b"]}, 400),
        ({"customAggregationUnits": ["お知らせ"]}, 400),
        ({"customAggregationUnits": ["notice_12"]}, 200),
    ],
)
def test_bench_channels_validate_like_line(
    sandbox_server: str, change: dict[str, Any], status: int
) -> None:
    create_bench(sandbox_server, 1000)
    body = {"to": [bench_id(0), bench_id(1)], "messages": [text()], **change}
    response = http().post(f"{sandbox_server}{MULTICAST}", json=body, headers=BENCH_AUTH)
    assert response.status_code == status
    delivered = counts(sandbox_server)["messages"]
    assert delivered == (2 if status == 200 else 0)


def test_bench_exchanges_keep_no_bodies_and_inbox_keeps_no_messages(sandbox_server: str) -> None:
    create_bench(sandbox_server, 10)
    key = new_key()
    send(sandbox_server, [0, 1], key)
    record = http().get(f"{sandbox_server}/sandbox/exchanges").json()[-1]
    assert record["path"] == MULTICAST and record["status"] == 200
    assert record["retry_key"] == key and record["channel"] == NAME
    assert record["bodies_recorded"] is False
    assert not {"request_body", "response_body", "request_headers"} & set(record)
    box = (
        http()
        .get(f"{sandbox_server}/sandbox/channels/{NAME}/inbox", params={"user_id": bench_id(0)})
        .json()
    )
    assert box["count"] == 1 and box["messages"] == []


def test_followers_and_profile_serve_bench_friends(sandbox_server: str) -> None:
    create_bench(sandbox_server, 3)
    followers = http().get(f"{sandbox_server}/v2/bot/followers/ids", headers=BENCH_AUTH).json()
    assert followers == {"userIds": [bench_id(0), bench_id(1), bench_id(2)]}
    profile = http().get(f"{sandbox_server}/v2/bot/profile/{bench_id(2)}", headers=BENCH_AUTH)
    assert profile.json()["userId"] == bench_id(2)
    not_ours = bench_id(2)[:-1] + "F"  # int() would read it; the roster must not
    assert (
        http().get(f"{sandbox_server}/v2/bot/profile/{not_ours}", headers=BENCH_AUTH).status_code
        == 404
    )


def test_bench_channel_creation_is_idempotent_and_grows(sandbox_server: str) -> None:
    assert create_bench(sandbox_server, 10)["created"] is True
    again = create_bench(sandbox_server, 20)
    assert (again["created"], again["users"]) == (False, 20)
    ordinary = http().post(
        f"{sandbox_server}/sandbox/channels",
        json={"name": NAME, "channel_secret": "bench-secret", "channel_access_token": TOKEN},
    )
    assert ordinary.status_code == 409 and ordinary.json()["error"] == "channel_exists"
    view = http().get(f"{sandbox_server}/sandbox/channels/{NAME}").json()
    assert view["bench"] is True and view["friend_id_prefix"] == bench_prefix(NAME)


def test_ordinary_channels_report_counts_from_their_inboxes(sandbox_server: str) -> None:
    for key in (new_key(), new_key()):
        http().post(
            f"{sandbox_server}{MULTICAST}",
            json={"to": [user(0), user(1)], "messages": [text()]},
            headers={**AUTH, "X-Line-Retry-Key": key},
        ).raise_for_status()
    summary = http().get(f"{sandbox_server}/sandbox/channels/{CHANNEL}/counts").json()
    assert (summary["recipients"], summary["messages"], summary["duplicates"]) == (2, 4, 2)
    assert (summary["max_per_recipient"], summary["requests"], summary["bench"]) == (2, 2, False)


def test_start_channel_can_be_a_bench_channel(make_sandbox: Callable[..., str]) -> None:
    base = make_sandbox(channel_bench=True, friends=MILLION)
    view = http().get(f"{base}/sandbox/channels/{CHANNEL}").json()
    assert (view["bench"], view["users"]) == (True, MILLION)
    followers = http().get(f"{base}/v2/bot/followers/ids?limit=2", headers=AUTH).json()
    assert followers["userIds"] == [bench_user_id(CHANNEL, 0), bench_user_id(CHANNEL, 1)]
