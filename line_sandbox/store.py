"""In-memory state of the sandbox: channels, their residents, accepted requests, exchanges.

Memory stays compact for large channels: every accepted request is stored once; per resident
the sandbox keeps one byte of friendship state, a 4-byte received-message counter and (unless
``record_inboxes`` is off, as in bench runs) an ``array`` of indexes into the channel's
request list.
"""

from __future__ import annotations

import itertools
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from line_sandbox.clock import Clock
from line_sandbox.ratelimit import SlidingWindowLimiter
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
class Fault:
    """An injected failure for the next ``remaining`` calls of one endpoint."""

    endpoint: str
    status: int
    remaining: int
    delay_seconds: float = 0.0
    process: bool = False  # True: process the request, then answer ``status`` (a lost reply)


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
    user_ids: list[str] = field(default_factory=list)
    index_of: dict[str, int] = field(default_factory=dict)
    friendship: bytearray = field(default_factory=bytearray)
    counts: array[int] = field(default_factory=lambda: array("I"))
    inboxes: dict[int, array[int]] = field(default_factory=dict)
    requests: list[AcceptedRequest] = field(default_factory=list)
    retry_keys: dict[str, RetryRecord] = field(default_factory=dict)
    reply_tokens: dict[str, tuple[int, float]] = field(default_factory=dict)
    usage_by_month: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    delivered_total: int = 0
    not_delivered_total: int = 0
    webhook_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))

    def is_friend(self, index: int) -> bool:
        return self.friendship[index] == Friendship.FRIEND

    def friend_indexes(self, start: int = 0) -> Iterator[int]:
        for i in range(start, len(self.friendship)):
            if self.friendship[i] == Friendship.FRIEND:
                yield i

    def take_fault(self, endpoint: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

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
