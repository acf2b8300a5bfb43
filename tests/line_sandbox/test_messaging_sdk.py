"""The real line-bot-sdk (AsyncMessagingApi) against the sandbox: push, multicast, followers…"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    BroadcastRequest,
    Configuration,
    MulticastRequest,
    PushMessageRequest,
    TextMessage,
)

from tests.line_sandbox.conftest import CHANNEL, FRIENDS, TOKEN
from tests.line_sandbox.helpers import http, inbox, new_key, stats, user


@pytest.fixture
async def api(sandbox_server: str) -> AsyncIterator[AsyncMessagingApi]:
    configuration = Configuration(host=sandbox_server, access_token=TOKEN)
    async with AsyncApiClient(configuration) as client:
        yield AsyncMessagingApi(client)


async def test_push_returns_sent_messages_and_lands_in_the_inbox(
    api: AsyncMessagingApi, sandbox_server: str
) -> None:
    response = await api.push_message_with_http_info(
        PushMessageRequest(to=user(1), messages=[TextMessage(text="給付金のお知らせ")])
    )
    assert response.status_code == 200
    sent = response.data.sent_messages
    assert len(sent) == 1 and sent[0].id.isdigit() and sent[0].quote_token
    received = inbox(sandbox_server, user(1))
    assert [item["messages"] for item in received] == [
        [{"type": "text", "text": "給付金のお知らせ"}]
    ]
    assert received[0]["message_ids"] == [sent[0].id]
    assert received[0]["request_id"] == response.headers["x-line-request-id"]


async def test_multicast_delivers_to_each_friend_once(
    api: AsyncMessagingApi, sandbox_server: str
) -> None:
    recipients = [user(0), user(2), user(2), user(4)]
    response = await api.multicast_with_http_info(
        MulticastRequest(to=recipients, messages=[TextMessage(text="健診のご案内")]),
        x_line_retry_key=new_key(),
    )
    assert response.status_code == 200
    assert [len(inbox(sandbox_server, user(i))) for i in range(FRIENDS)] == [1, 0, 1, 0, 1]
    assert stats(sandbox_server)["per_user_counts_histogram"] == {"0": 2, "1": 3}


async def test_non_friend_is_silently_not_delivered(
    api: AsyncMessagingApi, sandbox_server: str
) -> None:
    blocked, stranger = user(3), "U" + "0" * 32
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/unfollow", json={"user_ids": [blocked]}
    ).raise_for_status()
    multicast = await api.multicast_with_http_info(
        MulticastRequest(to=[blocked, stranger, user(0)], messages=[TextMessage(text="a")])
    )
    push = await api.push_message_with_http_info(
        PushMessageRequest(to=blocked, messages=[TextMessage(text="b")])
    )
    assert (multicast.status_code, push.status_code) == (200, 200)
    assert inbox(sandbox_server, blocked) == []
    assert len(inbox(sandbox_server, user(0))) == 1
    counts = stats(sandbox_server)
    assert (counts["delivered_recipients"], counts["not_delivered_recipients"]) == (1, 3)


async def test_followers_are_paged_with_next_token(api: AsyncMessagingApi) -> None:
    first = await api.get_followers(limit=2)
    second = await api.get_followers(start=first.next, limit=2)
    third = await api.get_followers(start=second.next, limit=2)
    assert first.user_ids == [user(0), user(1)]
    assert second.user_ids == [user(2), user(3)]
    assert third.user_ids == [user(4)] and third.next is None


async def test_followers_exclude_users_who_unfollowed(
    api: AsyncMessagingApi, sandbox_server: str
) -> None:
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/unfollow", json={"user_ids": [user(1)]}
    ).raise_for_status()
    followers = await api.get_followers()
    assert followers.user_ids == [user(0), user(2), user(3), user(4)]


async def test_followers_limit_over_1000_is_400(sandbox_server: str) -> None:
    response = http().get(
        f"{sandbox_server}/v2/bot/followers/ids",
        params={"limit": "1001"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400


async def test_profile_of_friend_and_404_for_non_friend(
    api: AsyncMessagingApi, sandbox_server: str
) -> None:
    profile = await api.get_profile(user(0))
    assert profile.user_id == user(0) and profile.display_name == "住民0001"
    with pytest.raises(ApiException) as stranger:
        await api.get_profile("U" + "f" * 32)
    assert stranger.value.status == 404
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/unfollow", json={"user_ids": [user(0)]}
    ).raise_for_status()
    with pytest.raises(ApiException) as blocked:
        await api.get_profile(user(0))
    assert blocked.value.status == 404


async def test_broadcast_reaches_every_friend(api: AsyncMessagingApi, sandbox_server: str) -> None:
    await api.broadcast(BroadcastRequest(messages=[TextMessage(text="全員へ")]))
    assert all(len(inbox(sandbox_server, user(i))) == 1 for i in range(FRIENDS))


async def test_quota_bot_info_and_consumption_counts_recipients(api: AsyncMessagingApi) -> None:
    await api.multicast(
        MulticastRequest(to=[user(0), user(1), user(2)], messages=[TextMessage(text="x")])
    )
    quota = await api.get_message_quota()
    consumption = await api.get_message_quota_consumption()
    info = await api.get_bot_info()
    assert quota.type == "none"
    assert consumption.total_usage == 3
    assert info.user_id.startswith("U") and len(info.user_id) == 33
    assert info.display_name == CHANNEL


async def test_monthly_limit_answers_429_and_delivers_nothing(
    make_sandbox: Callable[..., str],
) -> None:
    base = make_sandbox(monthly_limit=2)
    configuration = Configuration(host=base, access_token=TOKEN)
    async with AsyncApiClient(configuration) as client:
        api = AsyncMessagingApi(client)
        with pytest.raises(ApiException) as error:
            await api.multicast(
                MulticastRequest(to=[user(0), user(1), user(2)], messages=[TextMessage(text="x")])
            )
        quota = await api.get_message_quota()
    assert error.value.status == 429
    assert error.value.body == '{"message":"You have reached your monthly limit."}'
    assert (quota.type, quota.value) == ("limited", 2)
    assert inbox(base, user(0)) == []
