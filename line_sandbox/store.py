"""In-memory state of the sandbox: channels, their residents, accepted requests, exchanges.

Memory stays compact for large channels. Per resident the sandbox keeps one byte of friendship
state and a received-deliveries counter (``array('I')``; ``array('H')`` in bench channels, widened
if a count could ever pass 65,535). Ordinary channels also keep every accepted request once and
(unless ``record_inboxes`` is off) per resident an ``array`` of indexes into that list. Bench
channels (``bench=True``) keep neither: no request bodies, no inboxes, ids computed from the
index (``roster.py``) — only counters.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from line_sandbox.clock import Clock
from line_sandbox.faults import ChannelFaults
from line_sandbox.ratelimit import SlidingWindowLimiter
from line_sandbox.roster import CountedRoster, HashedRoster, Roster, RosterIndex
from line_sandbox.settings import SandboxSettings

if TYPE_CHECKING:
    from line_sandbox.webhooks import WebhookSender

JST = timezone(timedelta(hours=9), "JST")


class Friendship(IntEnum):
    FRIEND = 1
    BLOCKED = 2  # unfollowed (blocked) after having been a friend


@dataclass
class AcceptedRequest:
    """One accepted send request, stored once however many residents received it."""

    index: int
    request_id: str
    endpoint: str
    received_at: datetime
    retry_key: str | None
    messages: list[dict[str, Any]]
    message_ids: list[str]
    requested_recipients: int
    delivered: int
    notification_disabled: bool = False
    custom_aggregation_units: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetryRecord:
    request_id: str
    expires_at: float
    response_body: dict[str, Any]


@dataclass
class Channel:
    name: str
    channel_id: str
    secret: str
    token: str
    bot_user_id: str
    webhook_url: str | None
    multicast_rate_per_second: int
    monthly_limit: int | None
    bench: bool = False
    roster: Roster = field(init=False)
    friendship: bytearray = field(default_factory=bytearray)
    counts: array[int] = field(init=False)
    inboxes: dict[int, array[int]] = field(default_factory=dict)
    requests: list[AcceptedRequest] = field(default_factory=list)  # empty in bench channels
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    retry_keys: dict[str, RetryRecord] = field(default_factory=dict)
    reply_tokens: dict[str, tuple[int, float]] = field(default_factory=dict)
    usage_by_month: dict[str, int] = field(default_factory=dict)
    faults: ChannelFaults = field(default_factory=ChannelFaults)
    delivered_total: int = 0
    not_delivered_total: int = 0
    webhook_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))

    def __post_init__(self) -> None:
        self.roster = CountedRoster(self.name) if self.bench else HashedRoster(self.name)
        self.counts = array("H" if self.bench else "I")

    @property
    def user_ids(self) -> Roster:
        """User ids by resident index (a sequence; computed on demand in bench channels)."""
        return self.roster

    @property
    def index_of(self) -> Mapping[str, int]:
        """Resident index by user id (``.get(user_id)`` → index or None)."""
        return RosterIndex(self.roster)

    @property
    def accepted_total(self) -> int:
        return sum(self.requests_by_endpoint.values())

    def is_friend(self, index: int) -> bool:
        return self.friendship[index] == Friendship.FRIEND

    def friend_indexes(self, start: int = 0) -> Iterator[int]:
        """Indexes of current friends from ``start`` on (blocked stretches skipped in C)."""
        data = self.friendship
        index = data.find(Friendship.FRIEND, start)
        while index != -1:
            yield index
            index = data.find(Friendship.FRIEND, index + 1)

    def live_retry_record(self, key: str, now: float) -> RetryRecord | None:
        record = self.retry_keys.get(key)
        if record is not None and record.expires_at <= now:
            del self.retry_keys[key]
            return None
        return record

    def purge_expired(self, now: float) -> None:
        """Drop expired retry keys and reply tokens (both are kept in insertion = time order)."""
        for key in list(
            itertools.takewhile(lambda k: self.retry_keys[k].expires_at <= now, self.retry_keys)
        ):
            del self.retry_keys[key]
        for token in list(
            itertools.takewhile(lambda t: self.reply_tokens[t][1] <= now, self.reply_tokens)
        ):
            del self.reply_tokens[token]


class ExchangeLog:
    """A bounded ring buffer of raw LINE API exchanges, numbered from 1."""

    def __init__(self, capacity: int) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity) if capacity else deque(maxlen=0)
        self._next_id = 1

    def append(self, record: dict[str, Any]) -> None:
        record["id"] = self._next_id
        self._next_id += 1
        self._items.append(record)

    def since(self, after: int, limit: int) -> list[dict[str, Any]]:
        return [item for item in self._items if item["id"] > after][:limit]

    @property
    def last_id(self) -> int:
        return self._next_id - 1


class SandboxState:
    """Everything the running sandbox knows; lives on ``app.state.sandbox``."""

    def __init__(self, settings: SandboxSettings, clock: Clock, webhooks: WebhookSender) -> None:
        self.settings = settings
        self.clock = clock
        self.webhooks = webhooks
        self.channels: dict[str, Channel] = {}
        self.by_token: dict[str, Channel] = {}
        self.limiter = SlidingWindowLimiter()
        self.exchanges = ExchangeLog(settings.exchanges_capacity)
        self._message_ids = itertools.count(int(clock.now().timestamp() * 1000) * 1000)

    def next_message_id(self) -> str:
        return str(next(self._message_ids))

    def month_key(self) -> str:
        return self.clock.now().astimezone(JST).strftime("%Y-%m")
