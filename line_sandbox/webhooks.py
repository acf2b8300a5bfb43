"""Webhooks sent to the bot, signed and batched like LINE's.

Body ``{"destination": bot user id, "events": [...]}``, header ``x-line-signature`` =
base64(HMAC-SHA256(channel secret, raw body)). At most ``webhook_batch_size`` (≤ 100) events per
POST. When the bot answers non-2xx or does not answer within the timeout, the same events (same
``webhookEventId``) are posted once more with ``deliveryContext.isRedelivery = true``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import httpx
from ulid import ULID

from line_sandbox.clock import Clock
from line_sandbox.settings import SandboxSettings
from line_sandbox.store import Channel


def signature(secret: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def new_event(clock: Clock, kind: str, user_id: str, **extra: Any) -> dict[str, Any]:
    now = clock.now()
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": int(now.timestamp() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": str(ULID.from_datetime(now)),
        "deliveryContext": {"isRedelivery": False},
    }
    event.update(extra)
    return event


def batched(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def new_reply_token() -> str:
    return secrets.token_hex(16)


@dataclass
class BatchResult:
    events: int
    status: int | None  # final HTTP status; None = no answer (timeout / connection error)
    redelivered: bool
    first_status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "status": self.status,
            "first_status": self.first_status,
            "redelivered": self.redelivered,
            "error": self.error,
        }


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, settings: SandboxSettings, clock: Clock) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock

    async def send(self, channel: Channel, events: Iterable[dict[str, Any]]) -> list[BatchResult]:
        """POST ``events`` to the channel's webhook URL in batches; [] when no URL is set.

        ``events`` is consumed lazily, one batch at a time, so following a million residents
        never holds a million events in memory. An empty iterable sends nothing.
        """
        url = channel.webhook_url
        if url is None:
            return []
        gate = asyncio.Semaphore(self._settings.webhook_concurrency)
        tasks: list[asyncio.Task[BatchResult]] = []

        async def run(batch: list[dict[str, Any]]) -> BatchResult:
            try:
                return await self._deliver(url, channel, batch)
            finally:
                gate.release()

        for batch in batched(events, self._settings.webhook_batch_size):
            await gate.acquire()
            tasks.append(asyncio.create_task(run(batch)))
        return list(await asyncio.gather(*tasks))

    async def check(self, channel: Channel) -> BatchResult | None:
        """An ``events: []`` POST, as LINE's console sends to check the endpoint."""
        url = channel.webhook_url
        if url is None:
            return None
        return await self._deliver(url, channel, [])

    async def _deliver(
        self, url: str, channel: Channel, events: list[dict[str, Any]]
    ) -> BatchResult:
        first, error = await self._post(url, channel, events)
        if first is not None and 200 <= first < 300:
            result = BatchResult(len(events), first, False, first)
        else:
            for event in events:
                event["deliveryContext"] = {"isRedelivery": True}
            second, error = await self._post(url, channel, events)
            result = BatchResult(len(events), second, True, first, error)
        channel.webhook_log.append({"time": self._clock.now().isoformat(), **result.as_dict()})
        return result

    async def _post(
        self, url: str, channel: Channel, events: list[dict[str, Any]]
    ) -> tuple[int | None, str | None]:
        body = json.dumps(
            {"destination": channel.bot_user_id, "events": events},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-line-signature": signature(channel.secret, body),
            "user-agent": "LineBotWebhook/2.0",
        }
        try:
            response = await self._client.post(
                url,
                content=body,
                headers=headers,
                timeout=self._settings.webhook_timeout_seconds,
            )
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None
