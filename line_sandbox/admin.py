"""The sandbox's own admin API (prefix ``/sandbox``, no LINE auth, JSON).

Channels, simulated residents and what they received. Faults are in ``admin_faults.py``,
counts and friend-id paging (for benchmarks) in ``admin_bench.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from line_sandbox.channels import (
    create_channel,
    get_channel,
    resolve_users,
    send_follows,
    send_user_event,
)
from line_sandbox.counting import count_histogram
from line_sandbox.residents import add_friends
from line_sandbox.roster import CountedRoster
from line_sandbox.store import Channel, Friendship, SandboxState
from line_sandbox.webhooks import BatchResult

CHANNEL_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
SAMPLE_SIZE = 10
MAX_FRIENDS = 10_000_000


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=CHANNEL_NAME)
    channel_secret: str = Field(min_length=1)
    channel_access_token: str = Field(min_length=1)
    webhook_url: str | None = None
    multicast_rate_per_second: int | None = Field(default=None, ge=1)
    monthly_limit: int | None = Field(default=None, ge=0)
    # Bench mode: friend ids computed from their index, only counters kept (no inbox, no bodies).
    bench: bool = False
    friend_count: int = Field(default=0, ge=0, le=MAX_FRIENDS)


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_url: str | None = None
    multicast_rate_per_second: int | None = Field(default=None, ge=1)
    monthly_limit: int | None = Field(default=None, ge=0)


class FriendsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=MAX_FRIENDS)


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[str] | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> TargetsIn:
        if self.all == (self.user_ids is not None):
            raise ValueError('give either "user_ids" or "all": true')
        return self


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    text: str = Field(min_length=1, max_length=5000)


class PostbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    data: str = Field(min_length=1, max_length=300)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def channel_view(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "channel_id": channel.channel_id,
        "bot_user_id": channel.bot_user_id,
        "webhook_url": channel.webhook_url,
        "multicast_rate_per_second": channel.multicast_rate_per_second,
        "monthly_limit": channel.monthly_limit,
        "users": len(channel.roster),
        "bench": channel.bench,
        "friend_id_prefix": (
            channel.roster.prefix if isinstance(channel.roster, CountedRoster) else None
        ),
    }


def webhook_summary(sent: int, results: list[BatchResult]) -> dict[str, Any]:
    """``webhook_status``: the first failing batch's final status, else the last one's (None:
    no webhook URL, or no answer)."""
    failing = [r for r in results if not r.ok]
    summary = failing[0] if failing else (results[-1] if results else None)
    return {
        "sent_events": sent,
        "webhook_status": None if summary is None else summary.status,
        "webhook_ok": not failing,
        "batches": [r.as_dict() for r in results],
    }


def _user_index(channel: Channel, user_id: str) -> int:
    return resolve_users(channel, [user_id], everyone=False)[0]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox")

    @router.post("/channels")
    async def post_channel(body: ChannelIn, request: Request) -> dict[str, Any]:
        channel, created = create_channel(
            _state(request),
            name=body.name,
            secret=body.channel_secret,
            token=body.channel_access_token,
            webhook_url=body.webhook_url,
            multicast_rate_per_second=body.multicast_rate_per_second,
            monthly_limit=body.monthly_limit,
            bench=body.bench,
            friend_count=body.friend_count,
        )
        return {
            "channel_id": channel.channel_id,
            "bot_user_id": channel.bot_user_id,
            "created": created,
            "bench": channel.bench,
            "users": len(channel.roster),
        }

    @router.get("/channels")
    async def list_channels(request: Request) -> list[dict[str, Any]]:
        return [channel_view(c) for c in _state(request).channels.values()]

    @router.get("/channels/{name}")
    async def read_channel(name: str, request: Request) -> dict[str, Any]:
        return channel_view(get_channel(_state(request), name))

    @router.patch("/channels/{name}")
    async def patch_channel(name: str, body: ChannelPatch, request: Request) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        given = body.model_fields_set
        if "webhook_url" in given:
            channel.webhook_url = body.webhook_url
        if "multicast_rate_per_second" in given and body.multicast_rate_per_second is not None:
            channel.multicast_rate_per_second = body.multicast_rate_per_second
        if "monthly_limit" in given:
            channel.monthly_limit = body.monthly_limit
        return channel_view(channel)

    @router.post("/channels/{name}/friends")
    async def post_friends(name: str, body: FriendsIn, request: Request) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        created = add_friends(channel, body.count)
        return {
            "user_ids_sample": channel.roster[:SAMPLE_SIZE],
            "count": len(channel.roster),
            "created": created,
        }

    @router.post("/channels/{name}/follow")
    async def post_follow(name: str, body: TargetsIn, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        indexes = resolve_users(channel, body.user_ids, body.all)
        sent, results = await send_follows(state, channel, indexes, following=True)
        return webhook_summary(sent, results)

    @router.post("/channels/{name}/unfollow")
    async def post_unfollow(name: str, body: TargetsIn, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        indexes = resolve_users(channel, body.user_ids, body.all)
        sent, results = await send_follows(state, channel, indexes, following=False)
        return webhook_summary(sent, results)

    @router.post("/channels/{name}/message")
    async def post_message(name: str, body: MessageIn, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        index = _user_index(channel, body.user_id)
        state_id = state.next_message_id()
        message = {"id": state_id, "type": "text", "text": body.text, "quoteToken": f"q{state_id}"}
        results = await send_user_event(state, channel, index, "message", {"message": message})
        return webhook_summary(1, results)

    @router.post("/channels/{name}/postback")
    async def post_postback(name: str, body: PostbackIn, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        index = _user_index(channel, body.user_id)
        results = await send_user_event(
            state, channel, index, "postback", {"postback": {"data": body.data}}
        )
        return webhook_summary(1, results)

    @router.post("/channels/{name}/verify")
    async def post_verify(name: str, request: Request) -> dict[str, Any]:
        state = _state(request)
        result = await state.webhooks.check(get_channel(state, name))
        return webhook_summary(0, [] if result is None else [result])

    @router.get("/channels/{name}/inbox")
    async def read_inbox(name: str, request: Request, user_id: str = Query(...)) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        index = _user_index(channel, user_id)
        items = []
        for request_index in channel.inboxes.get(index, ()):
            accepted = channel.requests[request_index]
            items.append(
                {
                    "received_at": accepted.received_at.isoformat(),
                    "request_id": accepted.request_id,
                    "retry_key": accepted.retry_key,
                    "endpoint": accepted.endpoint,
                    "message_ids": accepted.message_ids,
                    "messages": accepted.messages,
                }
            )
        return {
            "user_id": user_id,
            "friend": channel.is_friend(index),
            "count": channel.counts[index],
            "messages": items,
        }

    @router.get("/channels/{name}/stats")
    async def read_stats(name: str, request: Request) -> dict[str, Any]:
        state = _state(request)
        channel = get_channel(state, name)
        histogram = count_histogram(channel)
        return {
            "accepted_requests": channel.accepted_total,
            "requests_by_endpoint": dict(channel.requests_by_endpoint),
            "delivered_recipients": channel.delivered_total,
            "not_delivered_recipients": channel.not_delivered_total,
            "per_user_counts_histogram": {str(k): n for k, n in histogram.items()},
            "users": len(channel.roster),
            "friends": channel.friendship.count(Friendship.FRIEND),
            "blocked": channel.friendship.count(Friendship.BLOCKED),
            "usage_this_month": channel.usage_by_month.get(state.month_key(), 0),
            "live_retry_keys": len(channel.retry_keys),
        }

    @router.get("/channels/{name}/webhooks")
    async def read_webhooks(name: str, request: Request) -> list[dict[str, Any]]:
        return list(get_channel(_state(request), name).webhook_log)

    @router.get("/exchanges")
    async def read_exchanges(
        request: Request,
        since: int = Query(0, ge=0),
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        return _state(request).exchanges.since(since, limit)

    return router
