"""The LINE Messaging API endpoints the sandbox serves (thin: validate, deliver, render)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import Response

from line_sandbox.delivery import accept, deliverable, sent_messages
from line_sandbox.errors import NOT_FOUND, REPLY_REJECTED, Detail, LineApiError
from line_sandbox.pipeline import CallContext, Handler, Outcome, run_call
from line_sandbox.residents import display_name
from line_sandbox.validation import (
    validate_messages_only,
    validate_multicast,
    validate_push,
    validate_reply,
)

DEFAULT_FOLLOWERS_LIMIT = 300
MAX_FOLLOWERS_LIMIT = 1000
VALIDATE_KINDS = ("push", "multicast", "broadcast", "reply", "narrowcast")


def push(ctx: CallContext) -> Outcome:
    send = validate_push(ctx.body)
    accepted = accept(ctx, "push", send, deliverable(ctx, send.to[:1]), requested=1)
    return Outcome(200, {"sentMessages": sent_messages(accepted)})


def multicast(ctx: CallContext) -> Outcome:
    send = validate_multicast(ctx.body)
    to = set(send.to)
    accept(ctx, "multicast", send, deliverable(ctx, to), requested=len(to))
    return Outcome(200, {})


def broadcast(ctx: CallContext) -> Outcome:
    send = validate_messages_only(ctx.body)
    friends = list(ctx.channel.friend_indexes())
    accept(ctx, "broadcast", send, friends, requested=len(friends))
    return Outcome(200, {})


def reply(ctx: CallContext) -> Outcome:
    send = validate_reply(ctx.body)
    entry = ctx.channel.reply_tokens.pop(send.reply_token or "", None)
    if entry is None or entry[1] <= ctx.state.clock.monotonic():
        raise LineApiError(400, REPLY_REJECTED)
    index = entry[0]
    recipients = [index] if ctx.channel.is_friend(index) else []
    accepted = accept(ctx, "reply", send, recipients, requested=1)
    return Outcome(200, {"sentMessages": sent_messages(accepted)})


def validate_only(ctx: CallContext) -> Outcome:
    validate_messages_only(ctx.body)
    return Outcome(200, {})


def _limit(ctx: CallContext) -> int:
    raw = ctx.query.get("limit")
    if raw is None:
        return DEFAULT_FOLLOWERS_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_FOLLOWERS_LIMIT:
        raise LineApiError(
            400,
            "The request parameter has 1 error(s)",
            [Detail(f"Must be between 1 and {MAX_FOLLOWERS_LIMIT}", "limit")],
        )
    return int(raw)


def _encode_start(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def _decode_start(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise LineApiError(400, "The value for the 'start' parameter is invalid") from exc
    prefix, _, number = text.partition(":")
    if prefix != "i" or not number.isdigit():
        raise LineApiError(400, "The value for the 'start' parameter is invalid")
    return int(number)


def followers(ctx: CallContext) -> Outcome:
    limit = _limit(ctx)
    start_token = ctx.query.get("start")
    start = _decode_start(start_token) if start_token else 0
    channel = ctx.channel
    user_ids: list[str] = []
    next_index: int | None = None
    for index in channel.friend_indexes(start):
        if len(user_ids) == limit:
            next_index = index
            break
        user_ids.append(channel.roster[index])
    body: dict[str, object] = {"userIds": user_ids}
    if next_index is not None:
        body["next"] = _encode_start(next_index)
    return Outcome(200, body)


def profile(ctx: CallContext) -> Outcome:
    user_id = ctx.path_params.get("user_id", "")
    index = ctx.channel.roster.lookup(user_id)
    if index is None or not ctx.channel.is_friend(index):
        raise LineApiError(404, NOT_FOUND)
    return Outcome(200, {"displayName": display_name(index), "userId": user_id, "language": "ja"})


def quota(ctx: CallContext) -> Outcome:
    limit = ctx.channel.monthly_limit
    if limit is None:
        return Outcome(200, {"type": "none"})
    return Outcome(200, {"type": "limited", "value": limit})


def consumption(ctx: CallContext) -> Outcome:
    used = ctx.channel.usage_by_month.get(ctx.state.month_key(), 0)
    return Outcome(200, {"totalUsage": used})


def bot_info(ctx: CallContext) -> Outcome:
    channel = ctx.channel
    return Outcome(
        200,
        {
            "userId": channel.bot_user_id,
            "basicId": f"@{channel.channel_id[-6:]}sbx",
            "displayName": channel.name,
            "chatMode": "bot",
            "markAsReadMode": "auto",
        },
    )


def not_found(ctx: CallContext) -> Outcome:
    raise LineApiError(404, NOT_FOUND)


def build_router() -> APIRouter:
    """The LINE API routes (api.line.me and api-data.line.me paths share one port).

    Plain Starlette routes (``add_route``): the pipeline reads the raw request itself, so
    FastAPI's per-request dependency solving would be pure overhead on the hot path."""
    router = APIRouter()

    def post(path: str, endpoint: str, handler: Handler) -> None:
        async def route(request: Request) -> Response:
            return await run_call(request, endpoint, handler, has_body=True)

        router.add_route(path, route, methods=["POST"], include_in_schema=False)

    def get(path: str, endpoint: str, handler: Handler) -> None:
        async def route(request: Request) -> Response:
            return await run_call(request, endpoint, handler, has_body=False)

        router.add_route(path, route, methods=["GET"], include_in_schema=False)

    post("/v2/bot/message/push", "push", push)
    post("/v2/bot/message/multicast", "multicast", multicast)
    post("/v2/bot/message/broadcast", "broadcast", broadcast)
    post("/v2/bot/message/reply", "reply", reply)
    for kind in VALIDATE_KINDS:
        post(f"/v2/bot/message/validate/{kind}", f"validate_{kind}", validate_only)
    get("/v2/bot/followers/ids", "followers", followers)
    get("/v2/bot/profile/{user_id}", "profile", profile)
    get("/v2/bot/message/quota", "quota", quota)
    get("/v2/bot/message/quota/consumption", "quota_consumption", consumption)
    get("/v2/bot/info", "bot_info", bot_info)
    return router


def build_fallback_router() -> APIRouter:
    """LINE's 404 for any other ``/v2/...`` path (include it after every other router)."""
    router = APIRouter()

    async def unknown(request: Request) -> Response:
        return await run_call(request, "unknown", not_found, has_body=False)

    router.add_api_route(
        "/v2/{rest:path}",
        unknown,
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        include_in_schema=False,
    )
    return router
