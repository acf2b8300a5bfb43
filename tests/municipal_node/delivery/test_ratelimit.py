"""The per-channel token bucket, on a simulated clock."""

from __future__ import annotations

import pytest

from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.settings import NodeSettings


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def starts(rate: float, burst: int, requests: int) -> list[float]:
    """When each of ``requests`` back-to-back callers gets its slot."""
    time = FakeTime()
    bucket = TokenBucket(rate=rate, burst=burst, monotonic=time.monotonic)
    out = []
    for _ in range(requests):
        out.append(time.now + bucket.reserve())
    return out


def most_in_any_window(times: list[float], window: float) -> int:
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t < start + window - 1e-9))
    return best


def test_a_full_bucket_lets_burst_requests_start_at_once_then_one_per_interval() -> None:
    times = starts(rate=10, burst=3, requests=6)
    assert times[:3] == [1000.0] * 3
    assert times[3:] == pytest.approx([1000.1, 1000.2, 1000.3])


def test_the_default_rate_keeps_every_second_at_most_200_multicasts() -> None:
    fields = NodeSettings.model_fields
    rate = fields["line_multicast_rate"].default
    burst = fields["line_multicast_burst"].default
    times = starts(rate=rate, burst=burst, requests=2000)
    assert most_in_any_window(times, 1.0) <= 200
    assert times[-1] - times[0] == pytest.approx((2000 - burst) / rate)


def test_idle_time_refills_no_more_than_the_burst() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=5, burst=2, monotonic=time.monotonic)
    for _ in range(4):
        bucket.reserve()
    time.now += 3600  # an hour idle
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0, 0, 0.2, 0.4])


async def test_acquire_sleeps_until_the_reserved_slot() -> None:
    time = FakeTime()
    bucket = TokenBucket(rate=4, burst=1, monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(3):
        await bucket.acquire()
    assert time.slept == pytest.approx([0.25, 0.25])


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)
