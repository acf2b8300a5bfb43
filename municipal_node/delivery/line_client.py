"""The one place the node talks to the LINE Messaging API (``linebot.v3``, async).

``LineClient.multicast`` sends one outbox batch with its ``X-Line-Retry-Key`` and classifies
the result: 200 and 409 (retry key already accepted) → sent; 429, 5xx and timeouts/connection
errors → retried with exponential backoff and full jitter, up to ``attempts`` times, then
``RETRY_LATER``; any other 4xx → failed for good, with LINE's message kept.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    TextMessage,
)

log = logging.getLogger(__name__)


class SendResult(enum.StrEnum):
    SENT = "sent"
    RETRY_LATER = "retry_later"
    FAILED = "failed"


@dataclass(frozen=True)
class SendOutcome:
    result: SendResult
    attempts: int
    status: int | None
    error: str | None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class LineClient:
    """Async LINE client for one channel. Use as ``async with LineClient(...) as client``."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        timeout_seconds: float,
        attempts: int = 4,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self._configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._attempts = attempts
        self._base = backoff_base_seconds
        self._cap = backoff_cap_seconds
        self._rng = rng or random.SystemRandom()
        self._api_client: AsyncApiClient | None = None

    async def __aenter__(self) -> LineClient:
        self._api_client = AsyncApiClient(self._configuration)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._api_client is not None:
            await self._api_client.close()
            self._api_client = None

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0, min(self._cap, self._base * (2 ** (attempt - 1))))

    async def _once(self, user_ids: list[str], text: str, retry_key: str) -> tuple[int, str | None]:
        if self._api_client is None:
            raise RuntimeError("LineClient used outside 'async with'")
        api = AsyncMessagingApi(self._api_client)
        request = MulticastRequest(to=user_ids, messages=[TextMessage(text=text)])
        try:
            response = await api.multicast_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            )
        except ApiException as exc:
            return int(exc.status or 0), _error_text(exc)
        return int(response.status_code), None

    async def multicast(self, user_ids: list[str], *, text: str, retry_key: str) -> SendOutcome:
        """Send ``text`` to ``user_ids`` (1–500) with ``X-Line-Retry-Key: retry_key``."""
        last_status: int | None = None
        last_error: str | None = None
        for attempt in range(1, self._attempts + 1):
            try:
                status, error = await self._once(user_ids, text, retry_key)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}".strip()
            last_status, last_error = (status or None), error
            if status in (200, 409):
                return SendOutcome(SendResult.SENT, attempt, status, None)
            if status and not _retryable(status):
                return SendOutcome(SendResult.FAILED, attempt, status, error)
            if attempt < self._attempts:
                delay = self._backoff(attempt)
                log.info(
                    "LINE multicast attempt %d got %s; retrying in %.2fs",
                    attempt,
                    status or "timeout",
                    delay,
                )
                await asyncio.sleep(delay)
        return SendOutcome(SendResult.RETRY_LATER, self._attempts, last_status, last_error)


def _error_text(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return f"HTTP {exc.status}: {(body or exc.reason or '')[:500]}"
