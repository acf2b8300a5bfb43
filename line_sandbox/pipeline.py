"""What every LINE API call goes through before and after its endpoint's own logic.

Order: body size (413) → bearer token (401) → ``X-Line-Retry-Key`` format and endpoint (400) →
rate limit (429, not processed) → injected faults (``faults.py``) → JSON (400) → accepted retry
key (409) → endpoint handler → retry key consumed on 2xx. Every exchange is recorded raw, except
in bench channels, where only its line (method, path, status, ids) is kept, never a body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from line_sandbox.errors import (
    AUTH_FAILED,
    RATE_LIMITED,
    RETRY_KEY_ACCEPTED,
    RETRY_KEY_INVALID,
    RETRY_KEY_NOT_ALLOWED,
    SERVER_ERROR,
    TOO_LARGE,
    LineApiError,
)
from line_sandbox.faults import Injection
from line_sandbox.ratelimit import Limit
from line_sandbox.settings import SandboxSettings
from line_sandbox.store import Channel, RetryRecord, SandboxState
from line_sandbox.validation import parse_json

logger = logging.getLogger(__name__)

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RETRY_KEY_ENDPOINTS = frozenset({"push", "multicast", "narrowcast", "broadcast"})
REDACTED = "Bearer ***"


@dataclass
class CallContext:
    state: SandboxState
    channel: Channel
    request_id: str
    retry_key: str | None
    body: Any
    query: Mapping[str, str]
    path_params: Mapping[str, str]


@dataclass
class Outcome:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[CallContext], Outcome]


@dataclass
class CallTrace:
    """What ``run_call`` learns while processing, for the exchange log."""

    channel: Channel | None = None
    retry_key: str | None = None


@dataclass(frozen=True)
class PendingCall:
    """An authenticated call past the rate limit, before its body is parsed."""

    state: SandboxState
    request: Request
    handler: Handler
    raw: bytes
    has_body: bool
    request_id: str
    channel: Channel
    retry_key: str | None


def rate_limit_for(endpoint: str, channel: Channel, settings: SandboxSettings) -> Limit:
    if endpoint == "multicast":
        return Limit(channel.multicast_rate_per_second, 1.0)
    if endpoint == "push":
        return Limit(settings.push_rate_per_second, 1.0)
    if endpoint in ("broadcast", "narrowcast"):
        return Limit(settings.broadcast_rate_per_hour, 3600.0)
    return Limit(settings.other_rate_per_second, 1.0)


async def read_limited(request: Request, limit: int) -> tuple[bytes, bool]:
    """The raw body, or (first bytes, True) once it exceeds ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), True
        chunks.append(chunk)
    return b"".join(chunks), False


def authenticate(state: SandboxState, header: str | None) -> Channel:
    if header is None:
        raise LineApiError(401, AUTH_FAILED)
    scheme, _, token = header.partition(" ")
    channel = state.by_token.get(token.strip()) if scheme.lower() == "bearer" else None
    if channel is None:
        raise LineApiError(401, AUTH_FAILED)
    return channel


def retry_key_of(request: Request, endpoint: str) -> str | None:
    key = request.headers.get("x-line-retry-key")
    if key is None:
        return None
    if endpoint not in RETRY_KEY_ENDPOINTS:
        raise LineApiError(400, RETRY_KEY_NOT_ALLOWED)
    if not UUID_RE.fullmatch(key.strip()):
        raise LineApiError(400, RETRY_KEY_INVALID)
    return key.strip().lower()


async def run_call(
    request: Request, endpoint: str, handler: Handler, *, has_body: bool
) -> Response:
    """Run one LINE API call through the common checks, the handler, and the exchange log."""
    state: SandboxState = request.app.state.sandbox
    request_id = str(uuid.uuid4())
    raw, too_large = await read_limited(request, state.settings.max_body_bytes)
    trace = CallTrace()
    try:
        outcome = await _process(
            state, request, endpoint, handler, raw, too_large, request_id, trace, has_body=has_body
        )
    except LineApiError as err:
        outcome = Outcome(err.status, err.body(), dict(err.headers))
    except Exception:
        logger.exception("unexpected error handling %s (request id %s)", endpoint, request_id)
        outcome = Outcome(500, {"message": SERVER_ERROR})
    content = (
        b""
        if outcome.body is None
        else json.dumps(outcome.body, ensure_ascii=False, separators=(",", ":")).encode()
    )
    response = Response(
        content=content,
        status_code=outcome.status,
        media_type="application/json",
        headers={**outcome.headers, "x-line-request-id": request_id},
    )
    if trace.channel is not None and trace.channel.bench:
        _record_line(state, request, response, request_id, trace)
    else:
        _record(state, request, raw, response, content)
    return response


async def _process(
    state: SandboxState,
    request: Request,
    endpoint: str,
    handler: Handler,
    raw: bytes,
    too_large: bool,
    request_id: str,
    trace: CallTrace,
    *,
    has_body: bool,
) -> Outcome:
    if too_large:
        raise LineApiError(413, TOO_LARGE)
    channel = trace.channel = authenticate(state, request.headers.get("authorization"))
    retry_key = trace.retry_key = retry_key_of(request, endpoint)
    limit = rate_limit_for(endpoint, channel, state.settings)
    if not state.limiter.allow(channel.name, endpoint, limit, state.clock.monotonic()):
        raise LineApiError(429, RATE_LIMITED)
    call = PendingCall(state, request, handler, raw, has_body, request_id, channel, retry_key)
    injection = channel.faults.draw(endpoint)
    if injection is None:
        latency = channel.faults.latency(endpoint)
        if latency > 0:
            await asyncio.sleep(latency)
        return _settle(call)
    return await _process_injected(call, injection)


async def _process_injected(call: PendingCall, injection: Injection) -> Outcome:
    """Apply an injected fault around the call's own processing."""
    if injection.delay_before > 0:
        await asyncio.sleep(injection.delay_before)
    if not injection.process:
        status = injection.status or 500
        raise LineApiError(status, _fault_message(status))
    try:
        outcome = _settle(call)
    finally:  # a timeout after acceptance: the call is done, its answer comes late
        if injection.delay_after > 0:
            await asyncio.sleep(injection.delay_after)
    if injection.status is not None:
        raise LineApiError(injection.status, _fault_message(injection.status))
    return outcome


def _settle(call: PendingCall) -> Outcome:
    """Parse, check the retry key, run the handler, consume the key. Never awaits, so the
    retry-key check and its consumption are atomic."""
    state, channel, retry_key = call.state, call.channel, call.retry_key
    body = parse_json(call.raw) if call.has_body else None
    now = state.clock.monotonic()
    channel.purge_expired(now)
    if retry_key is not None:
        accepted = channel.live_retry_record(retry_key, now)
        if accepted is not None:
            raise LineApiError(
                409,
                RETRY_KEY_ACCEPTED,
                headers={"x-line-accepted-request-id": accepted.request_id},
                extra=accepted.response_body,
            )
    ctx = CallContext(
        state=state,
        channel=channel,
        request_id=call.request_id,
        retry_key=retry_key,
        body=body,
        query=call.request.query_params,
        path_params=call.request.path_params,
    )
    outcome = call.handler(ctx)
    if retry_key is not None and 200 <= outcome.status < 300:
        channel.retry_keys[retry_key] = RetryRecord(
            request_id=call.request_id,
            expires_at=now + state.settings.retry_key_ttl_seconds,
            response_body={k: v for k, v in (outcome.body or {}).items() if k == "sentMessages"},
        )
    return outcome


def _fault_message(status: int) -> str:
    return RATE_LIMITED if status == 429 else SERVER_ERROR


def _clip(data: bytes, limit: int) -> tuple[str, bool]:
    clipped = data[:limit]
    return clipped.decode("utf-8", errors="replace"), len(data) > limit


def _record(
    state: SandboxState, request: Request, raw: bytes, response: Response, content: bytes
) -> None:
    if state.settings.exchanges_capacity == 0:
        return
    limit = state.settings.exchange_body_limit_bytes
    headers = {k: (REDACTED if k == "authorization" else v) for k, v in request.headers.items()}
    request_body, request_clipped = _clip(raw, limit)
    response_body, response_clipped = _clip(content, limit)
    state.exchanges.append(
        {
            "time": state.clock.now().isoformat(),
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "request_headers": headers,
            "request_body": request_body,
            "request_body_truncated": request_clipped,
            "status": response.status_code,
            "response_headers": dict(response.headers.items()),
            "response_body": response_body,
            "response_body_truncated": response_clipped,
        }
    )


def _record_line(
    state: SandboxState, request: Request, response: Response, request_id: str, trace: CallTrace
) -> None:
    """A bench channel's exchange: no headers, no bodies."""
    if state.settings.exchanges_capacity == 0:
        return
    state.exchanges.append(
        {
            "time": state.clock.now().isoformat(),
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "request_id": request_id,
            "retry_key": trace.retry_key,
            "channel": trace.channel.name if trace.channel is not None else None,
            "bodies_recorded": False,
        }
    )
