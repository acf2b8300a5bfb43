"""Webhook rules: verify, store every new event in the inbox, apply follow/unfollow at once."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.line import repository
from municipal_node.line.conversation import user_of

log = logging.getLogger(__name__)

MAX_EVENT_ID = 64


class BadWebhookError(Exception):
    """Signature missing or wrong, or a body LINE would never send. Nothing is stored."""


@dataclass(frozen=True)
class WebhookOutcome:
    events: int
    new: int
    duplicates: int
    follows: int
    unfollows: int


def parse(body: bytes, signature: str | None, *, channel_secret: str) -> list[dict[str, Any]]:
    """Verify the signature (``WebhookParser``) and return the events as LINE sent them."""
    if not signature:
        raise BadWebhookError("missing x-line-signature")
    try:
        text = body.decode("utf-8")
        WebhookParser(channel_secret).parse(text, signature)
        events = json.loads(text)["events"]
    except InvalidSignatureError as exc:
        raise BadWebhookError("invalid signature") from exc
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadWebhookError(f"malformed body: {type(exc).__name__}") from exc
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise BadWebhookError("malformed body")
    return events


def _event_ms(event: dict[str, Any]) -> int | None:
    value = event.get("timestamp")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def accept_events(
    session: AsyncSession, *, tenant_code: str, events: list[dict[str, Any]], now: datetime
) -> WebhookOutcome:
    """Store each new event as a pending inbox row and apply the newest follow/unfollow per
    user, in one transaction of a constant number of statements (LINE wants the answer within
    2 s; a body holds up to 100 events). An unfollow is therefore in ``line_friends`` before
    LINE hears back, and every later send checks it."""
    rows: dict[str, tuple[str, str, str | None, dict[str, Any]]] = {}
    for event in events:
        event_id = event.get("webhookEventId")
        if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
            log.warning("tenant %s: webhook event without a usable webhookEventId", tenant_code)
            continue
        kind = event.get("type")
        rows.setdefault(  # an id repeated inside one body counts once
            event_id,
            (event_id, kind if isinstance(kind, str) else "unknown", user_of(event), event),
        )
    new_ids = await repository.store_events(
        session, tenant_code=tenant_code, events=list(rows.values()), received_at=now
    )
    changes: dict[str, tuple[bool, int]] = {}
    follows = unfollows = 0
    for event_id, kind, user_id, event in rows.values():
        if event_id not in new_ids or kind not in ("follow", "unfollow") or user_id is None:
            continue
        event_ms = _event_ms(event)
        if event_ms is None:
            continue
        is_follow = kind == "follow"
        follows += int(is_follow)
        unfollows += int(not is_follow)
        if user_id not in changes or changes[user_id][1] <= event_ms:
            changes[user_id] = (is_follow, event_ms)
    await repository.set_friendships(session, tenant_code=tenant_code, changes=changes, now=now)
    return WebhookOutcome(len(events), len(new_ids), len(events) - len(new_ids), follows, unfollows)
