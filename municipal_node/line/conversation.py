"""What the node does with one webhook event: its effects and the reply (受信設定, ID連携).

``act`` runs inside the inbox worker's transaction; it changes the database and returns the
messages to reply with (or None: nothing to say). It makes no LINE call itself: the link token
a registration code needs is fetched beforehand (``wants_link_token``) and passed in.
Message text is never logged.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.crypto import Sealer
from municipal_node.line import messages, preferences, repository
from municipal_node.line.postback import Action, Postback, parse
from municipal_node.linking import codes, unlinking
from municipal_node.linking import repository as linking_repository
from municipal_node.linking import service as linking
from municipal_node.linking.digest import CodeLookup
from municipal_node.tenants.schemas import TenantConfig

_SPACES = re.compile(r"\s+")
KEYWORDS: dict[str, Action] = {
    "配信停止": Action.STOP,
    "停止": Action.STOP,
    "ストップ": Action.STOP,
    "再開": Action.RESUME,
    "配信再開": Action.RESUME,
    "設定": Action.SETTINGS,
    "受信設定": Action.SETTINGS,
    "連携": Action.LINK,
    "ID連携": Action.LINK,
}


def user_of(event: dict[str, Any]) -> str | None:
    source = event.get("source")
    if isinstance(source, dict) and source.get("type") == "user":
        user_id = source.get("userId")
        if isinstance(user_id, str) and user_id:
            return user_id
    return None


def text_of(event: dict[str, Any]) -> str | None:
    message = event.get("message")
    if isinstance(message, dict) and message.get("type") == "text":
        text = message.get("text")
        return text if isinstance(text, str) else None
    return None


def code_in(event: dict[str, Any]) -> str | None:
    """The registration code a text message looks like, normalised (None: not code-shaped)."""
    if event.get("type") != "message":
        return None
    text = text_of(event)
    return None if text is None else codes.normalise(text)


def redacted(event: dict[str, Any]) -> dict[str, Any] | None:
    """The payload to keep once acted on: a message's text removed (it may hold a code or
    anything a resident typed), an account link's nonce removed. None = keep as is."""
    message = event.get("message")
    if event.get("type") == "message" and isinstance(message, dict) and "text" in message:
        return {**event, "message": {**message, "text": "", "redacted": True}}
    link = event.get("link")
    if event.get("type") == "accountLink" and isinstance(link, dict) and "nonce" in link:
        return {**event, "link": {**link, "nonce": "", "redacted": True}}
    return None


async def wants_link_token(
    session: AsyncSession,
    *,
    lookup: CodeLookup,
    tenant_code: str,
    event: dict[str, Any],
    now: datetime,
) -> bool:
    """Whether acting on this event will need a fresh LINE link token (a usable code)."""
    user_id = user_of(event)
    code = code_in(event)
    if user_id is None or code is None:
        return False
    result, _ = await linking.check_code(
        session, lookup=lookup, tenant_code=tenant_code, user_id=user_id, code=code, now=now
    )
    return result is linking.CodeCheck.OK


async def act(
    session: AsyncSession,
    *,
    sealer: Sealer,
    lookup: CodeLookup,
    tenant: TenantConfig,
    event: dict[str, Any],
    link_token: str | None,
    now: datetime,
) -> list[messages.Message] | None:
    user_id = user_of(event)
    kind = event.get("type")
    if user_id is None or kind == "unfollow":
        return None  # groups/rooms are not served; unfollow is applied by the webhook itself
    if kind == "follow":
        if await repository.friendship(session, tenant.code, user_id) is False:
            return None  # unfollowed again before we got to greet
        prefs = await preferences.load(
            session, sealer=sealer, tenant_code=tenant.code, user_id=user_id
        )
        follow = event.get("follow")
        unblocked = isinstance(follow, dict) and follow.get("isUnblocked") is True
        return messages.greeting(tenant.name, prefs, unblocked=unblocked)
    if kind == "message":
        code = code_in(event)
        if code is not None:
            return await linking.redeem_code(
                session,
                lookup=lookup,
                tenant=tenant,
                user_id=user_id,
                code=code,
                link_token=link_token,
                now=now,
            )
        text = text_of(event)
        keyword = None if text is None else _keyword(text)
        if keyword is None:
            return messages.help_text(tenant.name)
        return await _postback(session, sealer, tenant, user_id, Postback(keyword), now)
    if kind == "postback":
        body = event.get("postback")
        data = body.get("data") if isinstance(body, dict) else None
        postback = parse(data) if isinstance(data, str) else None
        if postback is None:
            return messages.unknown_button()
        return await _postback(session, sealer, tenant, user_id, postback, now)
    if kind == "accountLink":
        link = event.get("link")
        result = link.get("result") if isinstance(link, dict) else None
        nonce = link.get("nonce") if isinstance(link, dict) else None
        return await linking.complete_link(
            session,
            tenant=tenant,
            user_id=user_id,
            result=result if isinstance(result, str) else None,
            nonce=nonce if isinstance(nonce, str) else None,
            now=now,
        )
    return None


def _keyword(text: str) -> Action | None:
    return KEYWORDS.get(_SPACES.sub("", unicodedata.normalize("NFKC", text)).upper())


async def _postback(
    session: AsyncSession,
    sealer: Sealer,
    tenant: TenantConfig,
    user_id: str,
    postback: Postback,
    now: datetime,
) -> list[messages.Message]:
    action = postback.action
    code = tenant.code
    linked = await linking_repository.linked_resident(session, code, user_id) is not None
    if action is Action.UNLINK:
        count = await unlinking.unlink_user(
            session, tenant_code=code, user_id=user_id, actor=linking.LINE_ACTOR, now=now
        )
        return messages.unlinked(had_link=count > 0)
    if action is Action.ERASE:
        if not postback.confirmed:
            return messages.erase_confirm(tenant.name)
        await unlinking.erase_friend(
            session, tenant_code=code, user_id=user_id, actor=linking.LINE_ACTOR, now=now
        )
        return messages.erased()
    if action is Action.LINK:
        return messages.link_help(tenant.name, linked=linked)
    prefs = await preferences.load(session, sealer=sealer, tenant_code=code, user_id=user_id)
    if action is Action.PAUSE:
        return messages.pause_menu(prefs)
    if action is Action.DECLARE:
        return [messages.declaration_card(prefs)]
    if action is Action.SETTINGS:
        return messages.settings_summary(tenant.name, prefs, linked=linked)
    if action is Action.STOP:
        changed = prefs.with_stopped(True)
    elif action is Action.RESUME:
        changed = prefs.with_stopped(False)
    elif action is Action.TOPIC and postback.code is not None:
        changed = prefs.toggle_topic(postback.code)
    elif action is Action.HOUSEHOLD and postback.code is not None:
        changed = prefs.toggle_household(postback.code)
    else:
        return messages.unknown_button()
    await preferences.save(
        session, sealer=sealer, tenant_code=code, user_id=user_id, preferences=changed, now=now
    )
    if action is Action.STOP:
        return messages.stopped()
    if action is Action.RESUME:
        return messages.resumed()
    if action is Action.HOUSEHOLD:
        return [messages.declaration_card(changed)]
    return messages.settings_summary(tenant.name, changed, linked=linked)
