"""Accepting a send request: store it once, hand it to each recipient who is a friend."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

from line_sandbox.errors import MONTHLY_LIMIT, LineApiError
from line_sandbox.pipeline import CallContext
from line_sandbox.store import AcceptedRequest
from line_sandbox.validation import SendRequest

QUOTABLE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})


def deliverable(ctx: CallContext, user_ids: Iterable[str]) -> list[int]:
    """Indexes of the distinct recipients who are current friends (others: silently dropped)."""
    channel = ctx.channel
    seen: set[int] = set()
    out: list[int] = []
    for user_id in user_ids:
        index = channel.index_of.get(user_id)
        if index is not None and index not in seen and channel.is_friend(index):
            seen.add(index)
            out.append(index)
    return out


def accept(
    ctx: CallContext, endpoint: str, send: SendRequest, recipients: list[int], requested: int
) -> AcceptedRequest:
    """Check the monthly limit, store the request once, append it to each recipient's inbox."""
    state, channel = ctx.state, ctx.channel
    month = state.month_key()
    used = channel.usage_by_month.get(month, 0)
    if channel.monthly_limit is not None and used + len(recipients) > channel.monthly_limit:
        raise LineApiError(429, MONTHLY_LIMIT)
    accepted = AcceptedRequest(
        index=len(channel.requests),
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
    channel.requests.append(accepted)
    channel.usage_by_month[month] = used + len(recipients)
    channel.delivered_total += len(recipients)
    channel.not_delivered_total += requested - len(recipients)
    keep_inbox = state.settings.record_inboxes
    for index in recipients:
        channel.counts[index] += 1
        if keep_inbox:
            inbox = channel.inboxes.get(index)
            if inbox is None:
                channel.inboxes[index] = array("I", [accepted.index])
            else:
                inbox.append(accepted.index)
    return accepted


def sent_messages(accepted: AcceptedRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message_id, message in zip(accepted.message_ids, accepted.messages, strict=True):
        item: dict[str, Any] = {"id": message_id}
        if message.get("type") in QUOTABLE_TYPES:
            item["quoteToken"] = f"q{message_id}"
        out.append(item)
    return out
