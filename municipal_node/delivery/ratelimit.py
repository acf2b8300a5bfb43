"""A token bucket per LINE channel and endpoint, shared by the senders of one process.

GCRA form (a "theoretical arrival time"): ``acquire`` reserves the next free slot and sleeps
until it; callers are served in call order, with no lock (one event loop). ``rate`` tokens a
second with room for ``burst`` at once: in any window of ``w`` seconds at most
``burst + rate·w`` requests start. LINE allows 200 multicast requests a second per channel, so
the defaults (190/s, burst 10) keep every one-second window at ≤ 200 by construction; a
request that arrives late and bunches with the next ones gets a 429 and is retried.

Across processes: each process that sends for a channel runs its own bucket with
``rate / processes`` and ``burst / processes`` (``TODOKE_NODE_DISPATCH_PROCESSES``), so their
sum stays within the channel's limit; a 429 (someone else using the channel, or a
miscount) is retried with backoff like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._tat = 0.0  # theoretical arrival time of the next request

    def reserve(self) -> float:
        """Take the next slot; return how many seconds to wait before using it."""
        now = self._monotonic()
        tat = max(self._tat, now)
        self._tat = tat + self._interval
        return max(0.0, tat - self._tolerance - now)

    def peek(self) -> float:
        """How long the next ``reserve`` would have to wait (nothing taken)."""
        now = self._monotonic()
        return max(0.0, max(self._tat, now) - self._tolerance - now)

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
