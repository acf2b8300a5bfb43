"""Rate limits per channel and endpoint: over the limit → 429 and the request is not processed.

The sandbox's clock is frozen, so "in one second" does not depend on how fast this machine is:
every request of the loop falls into the same second of the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from line_sandbox.errors import RATE_LIMITED
from tests.line_sandbox.conftest import AUTH, CHANNEL
from tests.line_sandbox.helpers import FakeClock, http, stats, text, user


def send_many(
    base: str, path: str, body: Mapping[str, object], headers: dict[str, str], count: int
) -> list[httpx.Response]:
    """``count`` requests in a row on one keep-alive connection (a bounded loop on loopback)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        return [client.post(path, json=body) for _ in range(count)]


def test_201st_multicast_in_one_second_is_429_and_not_processed(
    make_sandbox: Callable[..., str],
) -> None:
    clock = FakeClock()
    base = make_sandbox(clock=clock)
    body = {"to": [user(0)], "messages": [text()]}
    responses = send_many(base, "/v2/bot/message/multicast", body, AUTH, 250)
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (200, 50)
    rejected = next(r for r in responses if r.status_code == 429)
    assert rejected.json() == {"message": RATE_LIMITED}
    assert stats(base)["accepted_requests"] == 200
    assert stats(base)["delivered_recipients"] == 200
    clock.advance(1.0)
    later = send_many(base, "/v2/bot/message/multicast", body, AUTH, 1)
    assert later[0].status_code == 200


def test_push_allows_2000_per_second(make_sandbox: Callable[..., str]) -> None:
    base = make_sandbox(clock=FakeClock(), push_rate_per_second=2000)
    body = {"to": user(0), "messages": [text()]}
    responses = send_many(base, "/v2/bot/message/push", body, AUTH, 2001)
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (2000, 1)


def test_rate_is_configurable_per_channel_and_counted_per_endpoint(
    make_sandbox: Callable[..., str],
) -> None:
    base = make_sandbox(clock=FakeClock())
    http().post(
        f"{base}/sandbox/channels",
        json={
            "name": "slow",
            "channel_secret": "s",
            "channel_access_token": "slow-token",
            "multicast_rate_per_second": 3,
        },
    ).raise_for_status()
    slow = {"Authorization": "Bearer slow-token"}
    body = {"to": ["U" + "a" * 32], "messages": [text()]}
    wave = send_many(base, "/v2/bot/message/multicast", body, slow, 10)
    push = send_many(
        base, "/v2/bot/message/push", {"to": "U" + "a" * 32, "messages": [text()]}, slow, 1
    )
    default_channel = send_many(base, "/v2/bot/message/multicast", body, AUTH, 10)
    statuses = [r.status_code for r in wave]
    assert (statuses.count(200), statuses.count(429)) == (3, 7)
    assert push[0].status_code == 200  # push has its own limit
    assert {r.status_code for r in default_channel} == {200}  # other channel, own limit
    assert (
        http().get(f"{base}/sandbox/channels/{CHANNEL}").json()["multicast_rate_per_second"] == 200
    )
