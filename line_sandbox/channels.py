"""Creating channels and driving their simulated residents (the rules behind the admin API)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from line_sandbox.residents import add_friends, bot_user_id, channel_id, follow, unfollow
from line_sandbox.store import Channel, SandboxState
from line_sandbox.webhooks import BatchResult, new_event, new_reply_token


class AdminError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def create_channel(
    state: SandboxState,
    *,
    name: str,
    secret: str,
    token: str,
    webhook_url: str | None,
    multicast_rate_per_second: int | None = None,
    monthly_limit: int | None = None,
    bench: bool = False,
    friend_count: int = 0,
) -> tuple[Channel, bool]:
    """Create a channel with ``friend_count`` friends; the same call again only adds missing
    friends. Returns (channel, created). ``bench``: ids from the index, counters only."""
    existing = state.channels.get(name)
    if existing is not None:
        if existing.secret != secret or existing.token != token:
            raise AdminError(
                409, "channel_exists", f"channel {name!r} exists with other credentials"
            )
        if existing.bench != bench:
            raise AdminError(
                409,
                "channel_exists",
                f"チャネル {name!r} は別のモードで作成済みです / channel {name!r} exists "
                f"with bench={existing.bench}",
            )
        add_friends(existing, friend_count)
        return existing, False
    if token in state.by_token:
        raise AdminError(409, "token_in_use", "this access token belongs to another channel")
    channel = Channel(
        name=name,
        channel_id=channel_id(name),
        secret=secret,
        token=token,
        bot_user_id=bot_user_id(name),
        webhook_url=webhook_url,
        multicast_rate_per_second=multicast_rate_per_second
        or state.settings.multicast_rate_per_second,
        monthly_limit=monthly_limit if monthly_limit is not None else state.settings.monthly_limit,
        bench=bench,
    )
    add_friends(channel, friend_count)
    state.channels[name] = channel
    state.by_token[token] = channel
    return channel, True


def get_channel(state: SandboxState, name: str) -> Channel:
    channel = state.channels.get(name)
    if channel is None:
        raise AdminError(404, "unknown_channel", f"no channel named {name!r}")
    return channel


def resolve_users(channel: Channel, user_ids: list[str] | None, everyone: bool) -> Sequence[int]:
    if everyone:
        return range(len(channel.roster))
    indexes: list[int] = []
    for user_id in user_ids or []:
        index = channel.roster.lookup(user_id)
        if index is None:
            raise AdminError(404, "unknown_user", f"no simulated user {user_id!r} in this channel")
        indexes.append(index)
    return indexes


def _follow_events(
    state: SandboxState, channel: Channel, indexes: Iterable[int]
) -> Iterator[dict[str, Any]]:
    ttl = state.settings.reply_token_ttl_seconds
    for index in indexes:
        unblocked = follow(channel, index)
        token = new_reply_token()
        channel.reply_tokens[token] = (index, state.clock.monotonic() + ttl)
        yield new_event(
            state.clock,
            "follow",
            channel.roster[index],
            replyToken=token,
            follow={"isUnblocked": unblocked},
        )


def _unfollow_events(
    state: SandboxState, channel: Channel, indexes: Iterable[int]
) -> Iterator[dict[str, Any]]:
    for index in indexes:
        unfollow(channel, index)
        yield new_event(state.clock, "unfollow", channel.roster[index])


async def send_follows(
    state: SandboxState, channel: Channel, indexes: Iterable[int], *, following: bool
) -> tuple[int, list[BatchResult]]:
    """Change friendship and send the webhooks. Without a webhook URL only the state changes."""
    channel.purge_expired(state.clock.monotonic())
    events = (
        _follow_events(state, channel, indexes)
        if following
        else _unfollow_events(state, channel, indexes)
    )
    if channel.webhook_url is None:
        count = sum(1 for _ in events)
        return count, []
    results = await state.webhooks.send(channel, events)
    return sum(r.events for r in results), results


async def send_user_event(
    state: SandboxState, channel: Channel, index: int, kind: str, payload: dict[str, Any]
) -> list[BatchResult]:
    """A resident's own action (a text message, a postback tap) with a fresh reply token."""
    token = new_reply_token()
    channel.reply_tokens[token] = (
        index,
        state.clock.monotonic() + state.settings.reply_token_ttl_seconds,
    )
    event = new_event(state.clock, kind, channel.roster[index], replyToken=token, **payload)
    return await state.webhooks.send(channel, [event])
