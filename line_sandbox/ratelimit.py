"""Per-channel, per-endpoint rate limits: a sliding window of accepted request times."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


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
        window = self._windows.setdefault((channel, endpoint), deque())
        horizon = now - limit.per_seconds
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= limit.requests:
            return False
        window.append(now)
        return True

    def forget(self, channel: str) -> None:
        for key in [k for k in self._windows if k[0] == channel]:
            del self._windows[key]
