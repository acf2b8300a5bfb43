"""Follow/unfollow webhooks: signed like LINE, batched ≤ 100, redelivered once on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from ulid import ULID

from line_sandbox.residents import bot_user_id
from tests.line_sandbox.conftest import CHANNEL, SECRET, serve_in_thread
from tests.line_sandbox.helpers import http, inbox, post, text, user
from tests.line_sandbox.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    bot = Receiver(SECRET)
    with serve_in_thread(bot.app()) as url:
        yield bot, f"{url}/callback"


def admin(base: str, path: str, body: object) -> dict[str, object]:
    response = http().post(f"{base}/sandbox/channels/{CHANNEL}{path}", json=body, timeout=30)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def test_follow_webhook_is_signed_and_shaped_like_lines(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    base = make_sandbox(webhook_url=url)
    result = admin(base, "/follow", {"user_ids": [user(0), user(1)]})
    assert result["sent_events"] == 2 and result["webhook_status"] == 200
    assert len(bot.posts) == 1
    post_ = bot.posts[0]
    assert post_.signature_valid and post_.parsed_types == ["follow", "follow"]
    assert post_.body["destination"] == bot_user_id(CHANNEL)
    event = post_.body["events"][0]
    assert event["type"] == "follow" and event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": user(0)}
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert event["follow"] == {"isUnblocked": False}
    assert isinstance(event["timestamp"], int) and event["timestamp"] > 1_600_000_000_000
    assert str(ULID.from_str(event["webhookEventId"])) == event["webhookEventId"]
    assert event["replyToken"]


def test_follow_all_is_sent_in_batches_of_at_most_100(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    base = make_sandbox(webhook_url=url, friends=250)
    result = admin(base, "/follow", {"all": True})
    assert result["sent_events"] == 250
    sizes = sorted(len(p.body["events"]) for p in bot.posts)
    assert sizes == [50, 100, 100]
    ids = [e["webhookEventId"] for p in bot.posts for e in p.body["events"]]
    assert len(set(ids)) == 250
    assert {e["source"]["userId"] for p in bot.posts for e in p.body["events"]} == {
        user(i) for i in range(250)
    }


def test_failed_post_is_redelivered_once_with_same_event_ids(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    bot.fail_first = 1
    base = make_sandbox(webhook_url=url)
    result = admin(base, "/follow", {"user_ids": [user(2)]})
    assert len(bot.posts) == 2
    first, second = bot.posts
    assert first.signature_valid and second.signature_valid
    assert [e["webhookEventId"] for e in first.body["events"]] == [
        e["webhookEventId"] for e in second.body["events"]
    ]
    assert first.body["events"][0]["deliveryContext"] == {"isRedelivery": False}
    assert second.body["events"][0]["deliveryContext"] == {"isRedelivery": True}
    redelivered = dict(second.body["events"][0], deliveryContext={"isRedelivery": False})
    assert redelivered == first.body["events"][0]
    assert result["webhook_status"] == 200
    assert result["batches"] == [
        {"events": 1, "status": 200, "first_status": 500, "redelivered": True, "error": None}
    ]


def test_redelivery_happens_only_once(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    bot.fail_first = 5
    base = make_sandbox(webhook_url=url)
    result = admin(base, "/follow", {"user_ids": [user(2)]})
    assert len(bot.posts) == 2
    assert result["webhook_status"] == 500 and result["webhook_ok"] is False


def test_timeout_is_redelivered(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    bot.sleep_first = 1.5
    base = make_sandbox(webhook_url=url, webhook_timeout_seconds=0.3)
    result = admin(base, "/follow", {"user_ids": [user(0)]})
    assert result["batches"] == [
        {"events": 1, "status": 200, "first_status": None, "redelivered": True, "error": None}
    ]
    assert [p.body["events"][0]["deliveryContext"]["isRedelivery"] for p in bot.posts] == [
        False,
        True,
    ]


def test_unfollow_stops_delivery_and_refollow_is_unblocked(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    base = make_sandbox(webhook_url=url)
    admin(base, "/unfollow", {"user_ids": [user(0)]})
    post(base, "/v2/bot/message/multicast", {"to": [user(0), user(1)], "messages": [text()]})
    assert inbox(base, user(0)) == [] and len(inbox(base, user(1))) == 1
    admin(base, "/follow", {"user_ids": [user(0)]})
    post(base, "/v2/bot/message/multicast", {"to": [user(0)], "messages": [text()]})
    assert len(inbox(base, user(0))) == 1
    unfollow_event, follow_event = (p.body["events"][0] for p in bot.posts)
    assert unfollow_event["type"] == "unfollow" and "replyToken" not in unfollow_event
    assert follow_event["follow"] == {"isUnblocked": True}
    assert all(p.signature_valid for p in bot.posts)


def test_reply_with_follow_token_is_delivered_once(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    base = make_sandbox(webhook_url=url)
    admin(base, "/follow", {"user_ids": [user(3)]})
    token = bot.posts[0].body["events"][0]["replyToken"]
    body = {"replyToken": token, "messages": [text("友だち追加ありがとうございます")]}
    first = post(base, "/v2/bot/message/reply", body)
    again = post(base, "/v2/bot/message/reply", body)
    assert first.status_code == 200 and len(first.json()["sentMessages"]) == 1
    assert (again.status_code, again.json()) == (400, {"message": "Invalid reply token"})
    assert len(inbox(base, user(3))) == 1


def test_resident_message_and_postback_are_sent_signed(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    bot, url = receiver
    base = make_sandbox(webhook_url=url)
    admin(base, "/message", {"user_id": user(0), "text": "申請したいです"})
    admin(base, "/postback", {"user_id": user(0), "data": "action=apply&id=1"})
    assert [p.parsed_types for p in bot.posts] == [["message"], ["postback"]]
    assert all(p.signature_valid for p in bot.posts)
    assert bot.posts[0].body["events"][0]["message"]["text"] == "申請したいです"
    assert bot.posts[1].body["events"][0]["postback"] == {"data": "action=apply&id=1"}


def test_wrong_secret_is_detected_by_the_sdk(
    make_sandbox: Callable[..., str],
) -> None:
    bot = Receiver("another-secret")
    with serve_in_thread(bot.app()) as url:
        base = make_sandbox(webhook_url=f"{url}/callback")
        admin(base, "/follow", {"user_ids": [user(0)]})
    assert [p.signature_valid for p in bot.posts] == [False, False]


def test_without_webhook_url_follow_only_changes_state(sandbox_server: str) -> None:
    result = admin(sandbox_server, "/unfollow", {"all": True})
    assert result == {"sent_events": 5, "webhook_status": None, "webhook_ok": True, "batches": []}
    assert http().get(f"{sandbox_server}/sandbox/channels/{CHANNEL}/stats").json()["friends"] == 0
