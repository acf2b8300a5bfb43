"""Erase on request (from the chat, after a confirmation; or by staff): unlink, preferences
gone, stored webhook events blanked, audited — and nothing else of anyone else touched."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.line import repository
from municipal_node.line.models import FriendPreference
from municipal_node.line.postback import Action, Postback
from municipal_node.line.preferences import Preferences
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.line.rig import Chat
from tests.municipal_node.linking.test_account_link import issue, link_url

SCHOOL = Postback(Action.TOPIC, "school").data()
SINGLE_PARENT = Postback(Action.HOUSEHOLD, "single_parent").data()


async def linked_friend(chat: Chat, index: int, resident: str, code: str) -> str:
    user = chat.user(index)
    chat.follow(user)
    chat.tap(user, SCHOOL)
    chat.tap(user, SINGLE_PARENT)
    chat.say(user, code)
    await chat.process()
    chat.http.get(link_url(chat, user))
    await chat.process()
    assert await chat.link_of(resident) == user
    return user


async def test_erase_from_the_chat_asks_first_then_erases_the_residents_data(
    chat: Chat, tmp_path: Path
) -> None:
    await chat.import_residents(tmp_path, "R001", "R002")
    codes = {c["resident_id"]: c["code"] for c in issue(chat, "R001", "R002")["codes"]}
    user = await linked_friend(chat, 0, "R001", codes["R001"])
    other = await linked_friend(chat, 1, "R002", codes["R002"])

    chat.tap(user, Postback(Action.ERASE).data())
    await chat.process()
    assert chat.last_text(user).endswith(
        "よろしいですか？\n（友だち登録はそのままです。お知らせを止めるには「配信停止」を使ってください）"
    )
    labels = [i["action"]["label"] for i in chat.last_reply(user)[0]["quickReply"]["items"]]
    assert labels == ["削除する", "やめる"]
    assert await chat.link_of("R001") == user  # nothing yet
    assert (await chat.prefs(user)).topics == ("school",)

    chat.tap(user, "v=1&a=erase&confirm=yes")
    await chat.process()
    assert chat.last_text(user) == "受信設定・世帯の状況の申告・ID連携の情報を削除しました。"
    assert await chat.link_of("R001") is None
    assert await chat.prefs(user) == Preferences()
    async with chat.node.sessions() as session:
        kept = list(await session.scalars(select(FriendPreference.user_id)))
        assert await repository.friendship(session, TENANT, user) is True  # still a friend
    assert kept == [other]
    rows = await chat.inbox_rows()
    assert not any(r.user_id == user for r in rows)
    blanked = [r for r in rows if r.user_id is None]
    assert len(blanked) == 7 and all(r.payload == {} for r in blanked)
    assert await chat.link_of("R002") == other and (await chat.prefs(other)).topics == ("school",)
    async with chat.node.sessions() as session:
        (entry,) = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "friend.erase")
        )
    assert (entry.actor, entry.count) == ("line-resident", 1)
    assert entry.detail == {"unlinked": 1, "preferences": 1, "inbox_events": 7}


async def test_staff_erase_a_friend_on_request(chat: Chat, tmp_path: Path) -> None:
    await chat.import_residents(tmp_path, "R001")
    code = issue(chat, "R001")["codes"][0]["code"]
    user = await linked_friend(chat, 0, "R001", code)
    chat.tap(user, SCHOOL)  # still waiting in the inbox when staff erase
    with chat.api() as api:
        response = api.post(f"/api/tenants/{TENANT}/friends/{user}/erase")
        assert response.status_code == 200
        assert response.json() == {"unlinked": 1, "preferences": 1, "inbox_events": 6}
        bad = api.post(f"/api/tenants/{TENANT}/friends/not-a-user/erase")
        assert bad.status_code == 422 and bad.json()["code"] == "BAD_USER_ID"
        stranger = api.post(f"/api/tenants/{TENANT}/friends/U{'0' * 32}/erase")
        assert stranger.status_code == 404 and stranger.json()["code"] == "UNKNOWN_FRIEND"
    result = await chat.process()
    assert result.acted == 0  # the pending tap was closed, not acted on
    assert await chat.link_of("R001") is None
    assert await chat.prefs(user) == Preferences()
