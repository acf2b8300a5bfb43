"""Rate limits per channel and endpoint: over the limit → 429 and the request is not processed.

The sandbox's clock is frozen, so "in one second" does not depend on how fast this machine is:
every request of the loop falls into the same second of the sandbox.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Mapping

import httpx

from line_sandbox.errors import RATE_LIMITED
from line_sandbox.ratelimit import Limit, SlidingWindowLimiter
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


def test_no_400_across_a_second_boundary(make_sandbox: Callable[..., str]) -> None:
    # A coarse per-second counter would take 200 at x.9 s and 200 more at (x+1).1 s.
    clock = FakeClock()
    clock.seconds = 1000.9
    base = make_sandbox(clock=clock)
    body = {"to": [user(0)], "messages": [text()]}
    first = send_many(base, "/v2/bot/message/multicast", body, AUTH, 200)
    clock.advance(0.2)  # 1001.1: a new calendar second, but the same sliding second
    crossing = send_many(base, "/v2/bot/message/multicast", body, AUTH, 5)
    clock.advance(0.8)  # exactly 1 s after the first 200: they no longer count
    later = send_many(base, "/v2/bot/message/multicast", body, AUTH, 201)
    assert {r.status_code for r in first} == {200}
    assert {r.status_code for r in crossing} == {429}
    assert [r.status_code for r in later].count(200) == 200
    assert later[-1].status_code == 429


def test_a_client_paced_at_exactly_200_per_second_is_never_refused() -> None:
    limiter = SlidingWindowLimiter()
    limit = Limit(200, 1.0)
    accepted = [limiter.allow("c", "multicast", limit, 5000.0 + k / 200) for k in range(2000)]
    assert all(accepted)
    assert not limiter.allow("c", "multicast", limit, 5000.0 + 1999 / 200 + 0.001)


def test_no_one_second_window_ever_holds_more_than_the_limit() -> None:
    limiter = SlidingWindowLimiter()
    limit = Limit(200, 1.0)
    rng = random.Random(4)
    tick, accepted_ticks = 0, []  # integer milliseconds, so window edges are exact
    for _ in range(20_000):  # ~1,000 calls/s offered, with a few pauses of 0.4 s
        tick += 400 if rng.random() < 0.002 else rng.choice((0, 0, 0, 1, 2, 5))
        if limiter.allow("c", "multicast", limit, 100.0 + tick / 1000):
            accepted_ticks.append(tick)
    most = max(
        bisect.bisect_left(accepted_ticks, t + 1000) - i for i, t in enumerate(accepted_ticks)
    )
    assert most == 200
    seconds = (accepted_ticks[-1] - accepted_ticks[0]) / 1000
    assert len(accepted_ticks) > 0.8 * 200 * seconds  # refusing too much would be wrong too
