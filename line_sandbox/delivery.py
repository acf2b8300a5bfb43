"""Accepting a send request: store it once, hand it to each recipient who is a friend.

A *delivery* is one accepted request reaching one recipient (however many message objects it
holds — LINE bills the same way); ``channel.counts[index]`` counts them per resident.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection
from typing import Any

from line_sandbox import insight
from line_sandbox.errors import MONTHLY_LIMIT, LineApiError
from line_sandbox.pipeline import CallContext
from line_sandbox.store import AcceptedRequest, Channel, Friendship
from line_sandbox.validation import SendRequest

QUOTABLE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})


def deliverable(ctx: CallContext, user_ids: Collection[str]) -> list[int]:
    """Indexes of the recipients who are current friends (others: silently dropped, as LINE
    does). ``user_ids`` are distinct, valid ids (``U[0-9a-f]{32}``)."""
    friendship = ctx.channel.friendship
    friend = Friendship.FRIEND
    return [i for i in ctx.channel.roster.lookup_valid(user_ids) if friendship[i] == friend]


def accept(
    ctx: CallContext, endpoint: str, send: SendRequest, recipients: list[int], requested: int
) -> AcceptedRequest:
    """Check the monthly limit, store the request once (not in bench channels), count one
    delivery per recipient and append the request to each recipient's inbox (not in bench)."""
    state, channel = ctx.state, ctx.channel
    month = state.month_key()
    used = channel.usage_by_month.get(month, 0)
    if channel.monthly_limit is not None and used + len(recipients) > channel.monthly_limit:
        raise LineApiError(429, MONTHLY_LIMIT)
    accepted = AcceptedRequest(
        index=-1 if channel.bench else len(channel.requests),
        request_id=ctx.request_id,
        endpoint=endpoint,
        received_at=state.clock.now(),
        retry_key=ctx.retry_key,
        messages=send.messages,
        message_ids=[state.next_message_id() for _ in send.messages],
        requested_recipients=requested,
        delivered=len(recipients),
        notification_disabled=send.notification_disabled,
        custom_aggregation_units=send.custom_aggregation_units,
    )
    channel.requests_by_endpoint[endpoint] += 1
    channel.usage_by_month[month] = used + len(recipients)
    channel.delivered_total += len(recipients)
    channel.not_delivered_total += requested - len(recipients)
    count_deliveries(channel, recipients)
    insight.record(state, channel, send.custom_aggregation_units, recipients, len(send.messages))
    if not channel.bench:
        channel.requests.append(accepted)
        if state.settings.record_inboxes:
            _append_to_inboxes(channel, recipients, accepted.index)
    return accepted


def count_deliveries(channel: Channel, recipients: list[int]) -> None:
    counts = channel.counts
    for index in recipients:
        try:
            counts[index] += 1
        except OverflowError:  # an array('H') counter passed 65,535: widen it, once
            counts = channel.counts = array("I", counts)
            counts[index] += 1


def _append_to_inboxes(channel: Channel, recipients: list[int], request_index: int) -> None:
    inboxes = channel.inboxes
    for index in recipients:
        inbox = inboxes.get(index)
        if inbox is None:
            inboxes[index] = array("I", [request_index])
        else:
            inbox.append(request_index)


def sent_messages(accepted: AcceptedRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message_id, message in zip(accepted.message_ids, accepted.messages, strict=True):
        item: dict[str, Any] = {"id": message_id}
        if message.get("type") in QUOTABLE_TYPES:
            item["quoteToken"] = f"q{message_id}"
        out.append(item)
    return out
