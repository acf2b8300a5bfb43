"""Exponential backoff with full jitter (delay drawn uniformly from [0, min(cap, base·2ⁿ)]),
and an interruptible wait."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

#: attempts beyond this do not grow the ceiling any more (and keep 2**n small)
_MAX_EXPONENT = 32


@dataclass
class Backoff:
    base: float
    cap: float
    rng: random.Random = field(default_factory=random.SystemRandom)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")

    def ceiling(self, attempt: int) -> float:
        """The largest delay of retry number ``attempt`` (0 = the first retry)."""
        return min(self.cap, self.base * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, ceiling(attempt)]``."""
        return self.rng.uniform(0.0, self.ceiling(attempt))

    def long_delay(self, attempt: int) -> float:
        """For failures a quick retry cannot fix (the hub refused our credential): uniform in
        ``[ceiling/2, ceiling]`` of a ceiling four doublings further up."""
        ceiling = self.ceiling(attempt + 4)
        return self.rng.uniform(ceiling / 2, ceiling)


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of ``events`` is set, or after ``timeout`` seconds."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
