"""受信設定 through the LINE wire: the sandbox's residents follow, tap and type; the node's
webhook stores the events; its inbox worker replies through the real sandbox API."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from municipal_node.line import repository
from municipal_node.line.models import FriendPreference
from municipal_node.line.postback import Action, Postback
from municipal_node.line.preferences import Preferences, declared_aad
from municipal_node.line.topics import TOPICS
from tests.municipal_node.helpers import TENANT, TENANT_NAME
from tests.municipal_node.line.rig import Chat


def quick_labels(message: dict[str, Any]) -> list[str]:
    return [item["action"]["label"] for item in message["quickReply"]["items"]]


def topic(code: str) -> str:
    return Postback(Action.TOPIC, code).data()


def household(code: str) -> str:
    return Postback(Action.HOUSEHOLD, code).data()


async def test_follow_is_greeted_with_the_tenant_name_topic_buttons_and_a_declaration_card(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.follow(user)
    assert chat.inbox(user) == []  # the webhook only stores: no LINE call in the request
    result = await chat.process()
    assert (result.acted, result.replied) == (1, 1)
    hello, card, ask = chat.last_reply(user)
    assert hello["type"] == "text" and hello["text"].startswith(
        f"{TENANT_NAME}のLINE公式アカウント"
    )
    assert card["type"] == "flex" and card["altText"] == "世帯の状況（任意）の申告"
    buttons = card["contents"]["footer"]["contents"]
    assert [b["action"]["label"] for b in buttons] == [
        "ひとり親",
        "子育て中",
        "妊娠中",
        "高齢",
        "障害",
    ]
    labels = quick_labels(ask)
    assert labels == [*TOPICS.values(), "世帯の状況", "設定を確認"]
    assert len(labels) <= 13
    data = [i["action"]["data"] for i in ask["quickReply"]["items"]]
    assert data[0] == "v=1&a=topic&c=child_rearing"


async def test_a_topic_postback_toggles_the_topic_and_answers_with_the_settings(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.tap(user, topic("checkups"))
    await chat.process()
    assert (await chat.prefs(user)).topics == ("checkups",)
    text = chat.last_text(user)
    assert "受け取る分野: 健診・予防接種" in text
    assert "✓ 健診・予防接種" in quick_labels(chat.last_reply(user)[-1])
    chat.tap(user, topic("child_rearing"))
    chat.tap(user, topic("checkups"))
    await chat.process()
    assert (await chat.prefs(user)).topics == ("child_rearing",)
    assert "受け取る分野: 子育て\n" in chat.last_text(user)


async def test_a_household_declaration_is_toggled_and_stored_sealed(chat: Chat) -> None:
    user = chat.user(1)
    chat.tap(user, household("single_parent"))
    chat.tap(user, household("pregnant"))
    await chat.process()
    assert (await chat.prefs(user)).household == ("single_parent", "pregnant")
    card = chat.last_reply(user)[0]
    assert "現在の申告: ひとり親、妊娠中" in json.dumps(card, ensure_ascii=False)
    async with chat.node.sessions() as session:
        row = await session.scalar(select(FriendPreference))
    assert row is not None and row.declared_sealed is not None
    assert b"single_parent" not in row.declared_sealed
    opened = chat.node.sealer.open_text(row.declared_sealed, aad=declared_aad(TENANT, user))
    assert json.loads(opened) == {"household": ["single_parent", "pregnant"]}
    chat.tap(user, household("single_parent"))
    chat.tap(user, household("pregnant"))
    await chat.process()
    assert (await chat.prefs(user)).household == ()
    async with chat.node.sessions() as session:
        row = await session.scalar(select(FriendPreference))
    assert row is not None and row.declared_sealed is None


async def test_stop_all_is_stored_at_once_and_confirmed_and_resume_undoes_it(chat: Chat) -> None:
    user = chat.user(0)
    chat.tap(user, topic("school"))
    chat.tap(user, Postback(Action.STOP).data())
    await chat.process()
    assert await chat.prefs(user) == Preferences(topics=("school",), stopped=True)
    assert chat.last_text(user).startswith("すべてのお知らせの配信を停止しました")
    assert quick_labels(chat.last_reply(user)[0]) == ["配信を再開"]
    chat.tap(user, Postback(Action.RESUME).data())
    await chat.process()
    assert await chat.prefs(user) == Preferences(topics=("school",), stopped=False)
    assert chat.last_text(user) == "お知らせの配信を再開しました。"


async def test_typed_keywords_stop_and_resume_like_the_buttons(chat: Chat) -> None:
    user = chat.user(2)
    chat.say(user, "配信停止")
    await chat.process()
    assert (await chat.prefs(user)).stopped is True
    chat.say(user, " 再開 ")
    await chat.process()
    assert (await chat.prefs(user)).stopped is False


async def test_the_rich_menu_settings_postback_shows_the_current_settings(chat: Chat) -> None:
    user = chat.user(0)
    chat.tap(user, topic("elderly"))
    chat.tap(user, household("elderly"))
    chat.tap(user, Postback(Action.SETTINGS).data())
    await chat.process()
    text = chat.last_text(user)
    assert text.splitlines() == [
        f"{TENANT_NAME} 受信設定",
        "・受け取る分野: 高齢・介護",
        "・世帯の状況の申告: 高齢",
        "・配信: 受け取る",
        "・ID連携: 未連携",
        "下のボタンで変更できます。",
    ]
    labels = quick_labels(chat.last_reply(user)[0])
    assert labels[7:] == ["世帯の状況", "配信停止", "ID連携", "データ削除"]


async def test_unknown_or_forged_postback_data_gets_a_polite_reply_and_changes_nothing(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.tap(user, topic("school"))
    await chat.process()
    for forged in (
        "v=2&a=topic&c=school",
        "v=1&a=topic&c=nonsense",
        "v=1&a=topic&c=school&c=benefits",
        "v=1&a=stop&extra=1",
        "v=1&a=drop_tables",
        "action=buy&itemid=123",
        "v=1&a=erase&confirm=maybe",
    ):
        chat.tap(user, forged)
    result = await chat.process()
    assert result.replied == 7
    assert (await chat.prefs(user)) == Preferences(topics=("school",))
    replies = chat.inbox(user)[-7:]
    assert all(r["messages"][0]["text"].startswith("申し訳ありません。") for r in replies)


async def test_a_text_that_is_no_code_gets_help_and_its_text_is_not_kept(chat: Chat) -> None:
    user = chat.user(3)
    chat.say(user, "子どもの手当について教えてください")
    await chat.process()
    assert chat.last_text(user).startswith(
        "このアカウントでは、個別のメッセージにはお答えできません"
    )
    (row,) = await chat.inbox_rows()
    assert row.state == "done"
    assert row.payload["message"]["text"] == ""
    assert "手当" not in json.dumps(row.payload, ensure_ascii=False)


async def test_unfollow_is_applied_by_the_webhook_itself_before_any_worker_runs(
    chat: Chat,
) -> None:
    user = chat.user(0)
    chat.follow(user)
    chat.unfollow(user)
    async with chat.node.sessions() as session:
        assert await repository.friendship(session, TENANT, user) is False
    result = await chat.process()
    assert result.replied == 0  # no greeting for someone who has left already
    assert [r.state for r in await chat.inbox_rows()] == ["done", "done"]
