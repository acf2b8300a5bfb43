"""Per-channel, per-endpoint rate limits: a sliding window of accepted request times.

LINE states its limits as "N requests per second" (multicast 200/s). The sandbox enforces the
strict reading: in **no** interval of ``per_seconds`` are more than ``requests`` calls accepted —
not a fixed 1-s window (which lets 2 × N through around a second boundary) and not a token bucket
with a burst allowance (which lets N + burst through in the first second after a pause). A client
that paces itself at exactly N per second (one call every 1/N s) is never refused: a call exactly
``per_seconds`` older than now no longer counts (to within ``EDGE_TOLERANCE``, so float rounding
of ``k / N`` timestamps cannot refuse a correctly paced client). Refused calls are not recorded.

Cost per call: one dict lookup, O(1) amortised deque work; memory: ``requests`` floats per
channel and endpoint.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

EDGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Limit:
    requests: int
    per_seconds: float


class SlidingWindowLimiter:
    """At most ``limit.requests`` requests in any window of ``limit.per_seconds`` seconds."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def allow(self, channel: str, endpoint: str, limit: Limit, now: float) -> bool:
        """Count the request and return True, or return False (and count nothing)."""
        key = (channel, endpoint)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        horizon = now - limit.per_seconds + EDGE_TOLERANCE
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= limit.requests:
            return False
        window.append(now)
        return True

    def forget(self, channel: str) -> None:
        for key in [k for k in self._windows if k[0] == channel]:
            del self._windows[key]
