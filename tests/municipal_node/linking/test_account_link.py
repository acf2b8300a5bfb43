"""ID連携 end to end: a code issued over the API, sent in the chat, LINE's account-link dialog
in the sandbox, the ``accountLink`` webhook, the resident record linked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.line.postback import Action, Postback
from tests.municipal_node.helpers import CHANNEL_SECRET, TENANT, new_ulid
from tests.municipal_node.line.rig import Chat


def issue(chat: Chat, *resident_ids: str, **extra: Any) -> dict[str, Any]:
    with chat.api() as api:
        response = api.post(
            f"/api/tenants/{TENANT}/registration-codes",
            json={"resident_ids": list(resident_ids), **extra},
        )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def code_states(chat: Chat, issue_id: int) -> dict[str, str]:
    with chat.api() as api:
        body = api.get(f"/api/tenants/{TENANT}/registration-codes/{issue_id}").json()
    return {c["resident_id"]: c["state"] for c in body["codes"]}


def link_url(chat: Chat, user: str) -> str:
    (message,) = chat.last_reply(user)
    assert message["type"] == "flex", message
    button = message["contents"]["footer"]["contents"][0]["action"]
    assert button["label"] == "連携する"
    url: str = button["uri"]
    return url


def post_account_link(chat: Chat, user: str, nonce: str, result: str = "ok") -> str:
    """An ``accountLink`` webhook signed with the channel secret, as if from LINE."""
    event = {
        "type": "accountLink",
        "mode": "active",
        "timestamp": 1_775_000_000_000,
        "source": {"type": "user", "userId": user},
        "webhookEventId": new_ulid(),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": secrets.token_hex(16),
        "link": {"result": result, "nonce": nonce},
    }
    raw = json.dumps({"destination": "U" + "0" * 32, "events": [event]}).encode()
    mac = hmac.new(CHANNEL_SECRET.encode(), raw, hashlib.sha256).digest()
    response = chat.http.post(
        f"{chat.node_server.url}/line/{TENANT}/webhook",
        content=raw,
        headers={
            "content-type": "application/json",
            "x-line-signature": base64.b64encode(mac).decode(),
        },
    )
    assert response.status_code == 200
    return str(event["webhookEventId"])


async def audit(chat: Chat, action: str) -> list[AuditEntry]:
    async with chat.node.sessions() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows)


async def test_a_code_sent_in_the_chat_links_the_resident_through_lines_account_link(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001", "R002")
    issued = issue(chat, "R001", "R002")
    code = next(c["code"] for c in issued["codes"] if c["resident_id"] == "R001")
    user = chat.user(0)
    chat.follow(user)
    # full-width, lower case, no hyphens: still the code
    typed = (
        code.replace("-", "")
        .lower()
        .translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789abcdefghijklmnopqrstuvwxyz"})
    )
    chat.say(user, typed)
    await chat.process()
    url = link_url(chat, user)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == chat.sandbox.url  # the sandbox's dialog
    assert parts.path == "/dialog/bot/accountLink"
    query = parse_qs(parts.query)
    assert set(query) == {"linkToken", "nonce"} and len(query["nonce"][0]) >= 40
    assert await chat.link_of("R001") is None
    page = chat.http.get(url)  # the resident's LINE app opens the button's page
    assert page.status_code == 200 and "連携を受け付けました" in page.text
    await chat.process()
    assert chat.last_text(user).startswith("連携が完了しました")
    assert await chat.link_of("R001") == user
    assert code_states(chat, issued["issue_id"]) == {"R001": "used", "R002": "issued"}
    (entry,) = await audit(chat, "resident.link")
    assert (entry.count, entry.detail) == (1, {"issue_id": issued["issue_id"]})
    rows = await chat.inbox_rows()
    assert all(code.replace("-", "") not in json.dumps(r.payload) for r in rows)
    (link_event,) = [r for r in rows if r.type == "accountLink"]
    assert link_event.payload["link"] == {"result": "ok", "nonce": "", "redacted": True}
    assert query["nonce"][0] not in json.dumps([r.payload for r in rows])
    # the same code again: used up
    chat.say(chat.user(1), code)
    await chat.process()
    assert "すでに使われたか無効" in chat.last_text(chat.user(1))


async def test_a_wrong_code_is_answered_clearly_and_five_per_hour_block_more_tries(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001")
    code = issue(chat, "R001")["codes"][0]["code"]
    user = chat.user(0)
    for wrong in (
        "2345-6789-ABCD",
        "ZZZZ-ZZZZ-ZZZZ",
        "0000-1111-OOOO",
        "ABCDABCDABCD",
        "XXXXXXXXXXXX",
    ):
        chat.say(user, wrong)
    await chat.process()
    replies = [r["messages"][0]["text"] for r in chat.inbox(user)]
    assert len(replies) == 5 and all(
        t.startswith("登録コードを確認できませんでした") for t in replies
    )
    chat.say(user, code)  # even the right code is refused now
    await chat.process()
    assert chat.last_text(user).startswith("登録コードの確認に続けて失敗したため")
    chat.node.clock.set(chat.node.clock.now() + timedelta(minutes=61))
    chat.say(user, code)
    await chat.process()
    assert chat.last_reply(user)[0]["type"] == "flex"
    other = chat.user(1)  # the block is per LINE user
    chat.say(other, code)
    await chat.process()
    assert chat.last_reply(other)[0]["type"] == "flex"


async def test_an_expired_code_is_answered_clearly_and_links_nothing(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001")
    issued = issue(chat, "R001", valid_days=1)
    chat.node.clock.set(chat.node.clock.now() + timedelta(days=3))
    chat.say(chat.user(0), issued["codes"][0]["code"])
    await chat.process()
    assert "有効期限が切れています" in chat.last_text(chat.user(0))
    assert code_states(chat, issued["issue_id"]) == {"R001": "expired"}
    assert await chat.link_of("R001") is None


async def test_a_reissued_code_revokes_the_older_letter(chat: Chat, tmp_path: Path) -> None:
    await chat.import_residents(tmp_path, "R001")
    old = issue(chat, "R001")
    new = issue(chat, "R001")
    assert new["revoked"] == 1
    assert code_states(chat, old["issue_id"]) == {"R001": "revoked"}
    chat.say(chat.user(0), old["codes"][0]["code"])
    await chat.process()
    assert "すでに使われたか無効" in chat.last_text(chat.user(0))


def with_nonce(url: str, nonce: str) -> str:
    parts = urlsplit(url)
    token = parse_qs(parts.query)["linkToken"][0]
    return parts._replace(query=urlencode({"linkToken": token, "nonce": nonce})).geturl()


async def stored_reply(chat: Chat, event_id: str) -> str:
    """The reply the node decided on for an event the test signed itself (LINE refuses its
    made-up reply token, so it never reaches the sandbox inbox)."""
    rows = [r for r in await chat.inbox_rows() if r.webhook_event_id == event_id]
    assert len(rows) == 1 and rows[0].state == "done" and rows[0].reply is not None
    return str(rows[0].reply["messages"][0]["text"])


async def test_a_forged_nonce_or_another_users_nonce_links_nothing(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001", "R002")
    codes = {c["resident_id"]: c["code"] for c in issue(chat, "R001", "R002")["codes"]}
    owner, intruder = chat.user(0), chat.user(1)
    chat.say(owner, codes["R001"])
    chat.say(intruder, codes["R002"])
    await chat.process()
    owner_url, intruder_url = link_url(chat, owner), link_url(chat, intruder)
    owner_nonce = parse_qs(urlsplit(owner_url).query)["nonce"][0]
    # the intruder's own link token carrying the owner's nonce
    swapped = chat.open_link(intruder, with_nonce(intruder_url, owner_nonce))
    assert (swapped["status"], swapped["result"]) == (200, "ok")
    # the owner's link token with a nonce the node never issued
    forged = chat.open_link(owner, with_nonce(owner_url, secrets.token_urlsafe(32)))
    assert (forged["status"], forged["result"]) == (200, "ok")
    await chat.process()
    assert chat.last_text(intruder).startswith("連携できませんでした")
    assert chat.last_text(owner).startswith("連携できませんでした")
    assert await chat.link_of("R001") is None and await chat.link_of("R002") is None
    failed = post_account_link(chat, owner, owner_nonce, result="failed")
    await chat.process()
    assert (await stored_reply(chat, failed)).startswith("連携できませんでした")
    assert await chat.link_of("R001") is None
    # a used link token sends "failed"; opening someone else's link is refused by LINE
    assert chat.open_link(owner, owner_url)["result"] == "failed"
    refused = chat.open_link(owner, intruder_url)
    assert (refused["status"], refused["result"]) == (403, None)
    await chat.process()
    assert await chat.link_of("R001") is None
    # the owner's nonce was never consumed by those attempts: LINE's event for it links
    done = post_account_link(chat, owner, owner_nonce)
    await chat.process()
    assert (await stored_reply(chat, done)).startswith("連携が完了しました")
    assert await chat.link_of("R001") == owner
    replay = post_account_link(chat, owner, owner_nonce)
    await chat.process()
    assert (await stored_reply(chat, replay)).startswith("連携できませんでした")


async def test_linking_moves_a_line_user_from_one_record_to_another(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001", "R002")
    issued = issue(chat, "R001", "R002")
    codes = {c["resident_id"]: c["code"] for c in issued["codes"]}
    user = chat.user(0)
    for resident in ("R001", "R002"):
        chat.say(user, codes[resident])
        await chat.process()
        chat.http.get(link_url(chat, user))
        await chat.process()
        assert await chat.link_of(resident) == user
    assert await chat.link_of("R001") is None


async def test_unlink_from_the_chat_and_by_staff(chat: Chat, tmp_path: Path) -> None:
    await chat.import_residents(tmp_path, "R001", "R002")
    issued = issue(chat, "R001", "R002")
    codes = {c["resident_id"]: c["code"] for c in issued["codes"]}
    for index, resident in enumerate(("R001", "R002")):
        chat.say(chat.user(index), codes[resident])
        await chat.process()
        chat.http.get(link_url(chat, chat.user(index)))
        await chat.process()
    chat.tap(chat.user(0), Postback(Action.UNLINK).data())
    await chat.process()
    assert chat.last_text(chat.user(0)) == "ID連携を解除しました。"
    assert await chat.link_of("R001") is None
    with chat.api() as api:
        response = api.delete(f"/api/tenants/{TENANT}/residents/R002/link")
        assert response.json() == {"resident_id": "R002", "unlinked": True}
        again = api.delete(f"/api/tenants/{TENANT}/residents/R002/link")
        assert again.json() == {"resident_id": "R002", "unlinked": False}
        missing = api.delete(f"/api/tenants/{TENANT}/residents/NOPE/link")
        assert missing.status_code == 404 and missing.json()["code"] == "UNKNOWN_RESIDENT"
    assert await chat.link_of("R002") is None
    assert [(e.actor, e.count) for e in await audit(chat, "resident.unlink")] == [
        ("line-resident", 1),
        ("operator", 1),
        ("operator", 0),
    ]
