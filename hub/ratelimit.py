"""Per-client rate limiting: in-process token buckets with bounded memory.

Two budgets (``TODOKE_HUB_RATE_*`` settings): *publish* — one token per ``publishNotice`` field
executed — and *reads* — one token per GraphQL query request (including documents that do not
parse). A client is the SHA-256 of the ``Authorization: Bearer`` credential when one is sent,
else the client IP. Publishes are always keyed by IP: publishing carries no session, so a
bearer header there is unauthenticated and must not mint fresh buckets.

Buckets live in the process. With several hub replicas behind a load balancer each replica
enforces its own budget, so a client may get up to ``replicas ×`` the configured rate; set the
per-replica figures accordingly. Memory is bounded: a bucket idle long enough to be full again
is indistinguishable from a new one and is dropped; past ``max_clients`` the least recently
used bucket is dropped (that client merely gets a fresh burst).

Time comes from an injected monotonic ``Ticker`` (seconds), so tests never sleep.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Ticker = Callable[[], float]

SWEEP_PER_CALL = 4  # idle buckets examined per ``take``: amortised O(1) eviction


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until one token is available (0 when allowed)

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Token buckets keyed by client id; ``take`` never blocks."""

    def __init__(self, limit: RateLimit, *, ticker: Ticker, max_clients: int) -> None:
        if limit.per_second <= 0 or limit.burst < 1 or max_clients < 1:
            raise ValueError("rate, burst and max_clients must be positive")
        self.limit = limit
        self.ticker = ticker
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._refill_seconds = limit.burst / limit.per_second  # empty -> full

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str, cost: float = 1.0) -> Decision:
        now = self.ticker()
        self._sweep(now)
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.limit.burst), updated=now)
            self._buckets[client] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(
                float(self.limit.burst), bucket.tokens + elapsed * self.limit.per_second
            )
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return Decision(allowed=True)
        return Decision(allowed=False, retry_after=(cost - bucket.tokens) / self.limit.per_second)

    def refund(self, client: str, cost: float = 1.0) -> None:
        """Give back tokens taken by a ``take`` that turned out not to count (the hub's direct
        feed path hands such a request to the full GraphQL path, which charges it itself)."""
        bucket = self._buckets.get(client)
        if bucket is not None:
            bucket.tokens = min(float(self.limit.burst), bucket.tokens + cost)

    def _sweep(self, now: float) -> None:
        """Drop least-recently-used buckets that have refilled completely."""
        for _ in range(SWEEP_PER_CALL):
            if not self._buckets:
                return
            client, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated < self._refill_seconds:
                return
            del self._buckets[client]


@dataclass(frozen=True)
class HubRateLimiter:
    """The hub's two budgets."""

    publish: TokenBucketLimiter
    reads: TokenBucketLimiter

    @classmethod
    def build(
        cls, *, publish: RateLimit, reads: RateLimit, ticker: Ticker | None, max_clients: int
    ) -> HubRateLimiter:
        tick = ticker or time.monotonic
        return cls(
            publish=TokenBucketLimiter(publish, ticker=tick, max_clients=max_clients),
            reads=TokenBucketLimiter(reads, ticker=tick, max_clients=max_clients),
        )


def client_key(*, authorization: str | None, client_ip: str | None) -> str:
    """``cred:<sha256>`` for a bearer credential (never the credential itself), else ``ip:<addr>``."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return "cred:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    return ip_key(client_ip)


def ip_key(client_ip: str | None) -> str:
    return f"ip:{client_ip or 'unknown'}"
