"""X-Line-Retry-Key: UUID only, push/multicast/broadcast only, 409 on repeat, failures don't count."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MulticastRequest,
    TextMessage,
)

from tests.line_sandbox.conftest import CHANNEL, TOKEN
from tests.line_sandbox.helpers import FakeClock, http, inbox, new_key, post, stats, text, user

ACCEPTED = "The retry key is already accepted"


def test_repeated_push_is_409_with_accepted_request_id_and_same_sent_messages(
    sandbox_server: str,
) -> None:
    key = new_key()
    body = {"to": user(0), "messages": [text("一回目"), text("二通目")]}
    first = post(sandbox_server, "/v2/bot/message/push", body, **{"X-Line-Retry-Key": key})
    again = post(sandbox_server, "/v2/bot/message/push", body, **{"X-Line-Retry-Key": key})
    assert first.status_code == 200
    assert again.status_code == 409
    assert again.json() == {"message": ACCEPTED, "sentMessages": first.json()["sentMessages"]}
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert len(inbox(sandbox_server, user(0))) == 1


def test_repeated_multicast_is_409_and_delivered_once(sandbox_server: str) -> None:
    key = new_key()
    body = {"to": [user(0), user(1)], "messages": [text()]}
    first = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    again = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    assert (first.status_code, first.json()) == (200, {})
    assert (again.status_code, again.json()) == (409, {"message": ACCEPTED})
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert stats(sandbox_server)["delivered_recipients"] == 2


def test_failed_request_does_not_consume_the_key(sandbox_server: str) -> None:
    key = new_key()
    bad = post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0)], "messages": [text("")]},
        **{"X-Line-Retry-Key": key},
    )
    good = post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0)], "messages": [text()]},
        **{"X-Line-Retry-Key": key},
    )
    assert (bad.status_code, good.status_code) == (400, 200)
    assert len(inbox(sandbox_server, user(0))) == 1


def test_injected_500_before_processing_leaves_the_key_usable(sandbox_server: str) -> None:
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/faults",
        json={"endpoint": "multicast", "status": 500},
    ).raise_for_status()
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    failed = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    retried = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    assert (failed.status_code, retried.status_code) == (500, 200)
    assert len(inbox(sandbox_server, user(0))) == 1


def test_lost_reply_then_retry_is_409_and_delivered_once(sandbox_server: str) -> None:
    # A fault with "process": the sandbox delivers, then answers 500 (the reply got lost).
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/faults",
        json={"endpoint": "multicast", "status": 500, "process": True},
    ).raise_for_status()
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    lost = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    retried = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    assert (lost.status_code, retried.status_code) == (500, 409)
    assert len(inbox(sandbox_server, user(0))) == 1


@pytest.mark.parametrize("key", ["not-a-uuid", "123e4567e89b12d3a456426614174000", ""])
def test_retry_key_that_is_not_a_uuid_is_400(sandbox_server: str, key: str) -> None:
    response = post(
        sandbox_server,
        "/v2/bot/message/multicast",
        {"to": [user(0)], "messages": [text()]},
        **{"X-Line-Retry-Key": key},
    )
    assert response.status_code == 400
    assert response.json() == {"message": "The value for the 'X-Line-Retry-Key' header is invalid"}
    assert inbox(sandbox_server, user(0)) == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v2/bot/message/validate/push", {"messages": [text()]}),
        ("POST", "/v2/bot/message/reply", {"replyToken": "x", "messages": [text()]}),
        ("GET", "/v2/bot/followers/ids", None),
    ],
)
def test_retry_key_on_other_endpoints_is_400(
    sandbox_server: str, method: str, path: str, body: object
) -> None:
    response = http().request(
        method,
        f"{sandbox_server}{path}",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": new_key()},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "The 'X-Line-Retry-Key' header is not supported by this API"
    }


async def test_sdk_sees_409_with_accepted_request_id(sandbox_server: str) -> None:
    key = new_key()
    request = MulticastRequest(to=[user(0)], messages=[TextMessage(text="x")])
    async with AsyncApiClient(Configuration(host=sandbox_server, access_token=TOKEN)) as client:
        api = AsyncMessagingApi(client)
        first = await api.multicast_with_http_info(request, x_line_retry_key=key)
        with pytest.raises(ApiException) as repeat:
            await api.multicast_with_http_info(request, x_line_retry_key=key)
    assert repeat.value.status == 409
    assert repeat.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]


def test_retry_key_is_kept_24_hours(make_sandbox: Callable[..., str]) -> None:
    clock = FakeClock()
    base = make_sandbox(clock=clock)
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    assert (
        post(base, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key}).status_code
        == 200
    )
    clock.advance(24 * 3600 - 1)
    assert (
        post(base, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key}).status_code
        == 409
    )
    clock.advance(2)
    assert (
        post(base, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key}).status_code
        == 200
    )
    assert len(inbox(base, user(0))) == 2


def test_retry_keys_are_per_channel(sandbox_server: str) -> None:
    http().post(
        f"{sandbox_server}/sandbox/channels",
        json={"name": "other", "channel_secret": "s", "channel_access_token": "other-token"},
    ).raise_for_status()
    key = new_key()
    body = {"to": [user(0)], "messages": [text()]}
    mine = post(sandbox_server, "/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    theirs = http().post(
        f"{sandbox_server}/v2/bot/message/multicast",
        json=body,
        headers={"Authorization": "Bearer other-token", "X-Line-Retry-Key": key},
    )
    assert (mine.status_code, theirs.status_code) == (200, 200)
