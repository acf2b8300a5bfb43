"""The inbox worker's LINE calls: reply with a reply token, issue an account-link token.

One small class over ``linebot.v3`` (async). Outcomes are classified the way the worker needs:
``ok``; ``rejected`` (a 4xx other than 429: retrying cannot help — e.g. a reply token already
used or expired); ``retry`` (429, 5xx, timeout, connection error).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    ReplyMessageRequest,
)


class Result(enum.StrEnum):
    OK = "ok"
    REJECTED = "rejected"
    RETRY = "retry"


@dataclass(frozen=True)
class CallOutcome:
    result: Result
    status: int | None = None
    error: str | None = None
    link_token: str | None = None


def _classify(status: int) -> Result:
    if status == 429 or status >= 500:
        return Result.RETRY
    return Result.REJECTED


def _error_text(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return f"HTTP {exc.status}: {(body or exc.reason or '')[:300]}"


class LineReplies:
    """Use as ``async with LineReplies(base_url=…, access_token=…, timeout_seconds=…)``."""

    def __init__(self, *, base_url: str, access_token: str, timeout_seconds: float) -> None:
        self._configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._client: AsyncApiClient | None = None

    async def __aenter__(self) -> LineReplies:
        self._client = AsyncApiClient(self._configuration)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _api(self) -> AsyncMessagingApi:
        if self._client is None:
            raise RuntimeError("LineReplies used outside 'async with'")
        return AsyncMessagingApi(self._client)

    async def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> CallOutcome:
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        try:
            response = await self._api().reply_message_with_http_info(
                request, _request_timeout=self._timeout
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            return CallOutcome(_classify(status), status, _error_text(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return CallOutcome(Result.RETRY, None, type(exc).__name__)
        return CallOutcome(Result.OK, int(response.status_code))

    async def issue_link_token(self, user_id: str) -> CallOutcome:
        try:
            response = await self._api().issue_link_token(user_id, _request_timeout=self._timeout)
        except ApiException as exc:
            status = int(exc.status or 0)
            return CallOutcome(_classify(status), status, _error_text(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return CallOutcome(Result.RETRY, None, type(exc).__name__)
        return CallOutcome(Result.OK, 200, link_token=str(response.link_token))
