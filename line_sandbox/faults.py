"""Injected failures of LINE API calls, per channel.

Two ways to inject, both set with ``POST /sandbox/channels/{name}/faults``:

- a **queue** of ``Fault``s: "the next N calls of this endpoint answer this status" (optionally
  after a delay, optionally after processing the call — a lost reply);
- a random **profile** (``FaultProfile``): for every call of its endpoints, in arrival order,
  call number ``n`` (from 0) is

  1. a 429 when ``burst_every`` is set and ``n % burst_every < burst_length`` (a burst of
     ``burst_length`` consecutive 429s opening every cycle of ``burst_every`` calls), else
  2. with probability ``error_share`` a 500 (nothing processed, the retry key stays usable),
  3. with probability ``timeout_share`` a timeout: the answer comes ``timeout_seconds`` late. A
     share ``timeout_accepted_share`` of timeouts are *accepted then slow* (the call is processed —
     messages delivered, retry key consumed — and its real answer is delayed), the rest *slow then
     failed* (after the delay a 500; nothing processed).

  Two draws of ``random.Random(seed)`` are made for every call (bursts included), so the fault of
  call ``n`` depends only on the seed and ``n``: the same seed and the same calls give the same
  faults. A queued fault, when one applies, goes first and consumes no draw.

  ``latency_seconds`` delays every call of the profile's endpoints that is answered normally
  (LINE's round trip from a data centre in Japan is tens of milliseconds, not loopback's one):
  not a fault, not counted.

The pipeline applies an ``Injection`` (``pipeline.py``). Rate-limited calls (429 from the limiter)
never reach the faults and are not counted.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    QUEUED = "queued"
    ERROR_500 = "error_500"
    TIMEOUT_ACCEPTED = "timeout_accepted"
    TIMEOUT_FAILED = "timeout_failed"
    BURST_429 = "burst_429"


@dataclass
class Fault:
    """An injected failure for the next ``remaining`` calls of one endpoint."""

    endpoint: str
    status: int
    remaining: int
    delay_seconds: float = 0.0
    process: bool = False  # True: process the request, then answer ``status`` (a lost reply)


@dataclass(frozen=True)
class FaultProfile:
    error_share: float = 0.0
    timeout_share: float = 0.0
    timeout_accepted_share: float = 0.5
    timeout_seconds: float = 15.0
    burst_every: int | None = None
    burst_length: int = 0
    seed: int = 0
    endpoints: tuple[str, ...] = ("multicast",)
    latency_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        burst = (
            None
            if self.burst_every is None
            else {"every": self.burst_every, "length": self.burst_length}
        )
        return {
            "error_share": self.error_share,
            "timeout_share": self.timeout_share,
            "timeout_accepted_share": self.timeout_accepted_share,
            "timeout_seconds": self.timeout_seconds,
            "burst_429": burst,
            "seed": self.seed,
            "endpoints": list(self.endpoints),
            "latency_seconds": self.latency_seconds,
        }


@dataclass(frozen=True)
class Injection:
    """What happens to one call: wait ``delay_before``; if not ``process``, answer ``status``.
    Otherwise process the call, wait ``delay_after``, then answer ``status`` or (None) the call's
    own answer."""

    kind: FaultKind
    status: int | None
    process: bool
    delay_before: float = 0.0
    delay_after: float = 0.0


@dataclass
class ChannelFaults:
    queue: list[Fault] = field(default_factory=list)
    profile: FaultProfile | None = None
    seen: int = 0  # calls the profile has judged
    injected: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=random.Random)

    def set_profile(self, profile: FaultProfile) -> None:
        """Install ``profile`` (replacing any other) and restart its sequence and counters."""
        self.profile = profile
        self.seen = 0
        self.injected.clear()
        # Fault injection, not security: a seeded, reproducible generator is the point.
        self._rng = random.Random(profile.seed)  # noqa: S311

    def clear(self) -> None:
        self.queue.clear()
        self.profile = None
        self.seen = 0
        self.injected.clear()

    def draw(self, endpoint: str) -> Injection | None:
        """The fault for this call of ``endpoint``, or None (answer normally)."""
        if self.queue:
            queued = self._take_queued(endpoint)
            if queued is not None:
                self.injected[FaultKind.QUEUED] += 1
                return queued
        profile = self.profile
        if profile is None or endpoint not in profile.endpoints:
            return None
        number = self.seen
        self.seen += 1
        first, second = self._rng.random(), self._rng.random()
        injection = _judge(profile, number, first, second)
        if injection is not None:
            self.injected[injection.kind] += 1
        return injection

    def latency(self, endpoint: str) -> float:
        """Seconds a normally answered call of ``endpoint`` waits first (the profile's)."""
        profile = self.profile
        if profile is None or endpoint not in profile.endpoints:
            return 0.0
        return profile.latency_seconds

    def _take_queued(self, endpoint: str) -> Injection | None:
        for fault in self.queue:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.queue.remove(fault)
                return Injection(
                    FaultKind.QUEUED,
                    fault.status,
                    process=fault.process,
                    delay_before=fault.delay_seconds,
                )
        return None

    def view(self) -> dict[str, Any]:
        return {
            "faults": [vars(f) for f in self.queue],
            "profile": None if self.profile is None else self.profile.as_dict(),
            "judged_calls": self.seen,
            "injected": {kind.value: self.injected[kind] for kind in FaultKind},
        }


def _judge(profile: FaultProfile, number: int, first: float, second: float) -> Injection | None:
    every = profile.burst_every
    if every is not None and number % every < profile.burst_length:
        return Injection(FaultKind.BURST_429, 429, process=False)
    if first < profile.error_share:
        return Injection(FaultKind.ERROR_500, 500, process=False)
    if first < profile.error_share + profile.timeout_share:
        delay = profile.timeout_seconds
        if second < profile.timeout_accepted_share:
            return Injection(FaultKind.TIMEOUT_ACCEPTED, None, process=True, delay_after=delay)
        return Injection(FaultKind.TIMEOUT_FAILED, 500, process=False, delay_before=delay)
    return None
