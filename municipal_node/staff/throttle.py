"""Failed sign-ins per client address: after ``limit`` failures within ``window`` the address
gets 429 (with ``Retry-After``) before any password is checked, so one machine can neither
try passwords across many accounts (the per-account lockout only sees one) nor keep the
node busy hashing. Kept in memory per process (a node of N processes allows N × limit);
a success does not reset it (a sprayer with one right password must not get a free pass).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta

#: addresses remembered at most (oldest forgotten first): bounded memory under a flood
MAX_ADDRESSES = 10_000


class LoginThrottle:
    def __init__(self, *, limit: int, window: timedelta) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
        return failures

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        failures = self._recent(address, now)
        if len(failures) < self.limit:
            return None
        wait = (failures[0] + self.window - now).total_seconds()
        return max(1, math.ceil(wait))

    def failed(self, address: str, now: datetime) -> None:
        failures = self._recent(address, now)
        if address not in self._failures:
            self._failures[address] = failures
        self._failures.move_to_end(address)
        failures.append(now)
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
