"""The sandbox's account link: link tokens over the SDK, the dialog page, the ``accountLink``
webhook it signs, and LINE's refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi

from tests.line_sandbox.conftest import CHANNEL, SECRET, TOKEN, serve_in_thread
from tests.line_sandbox.helpers import FakeClock, http, user
from tests.line_sandbox.receiver import Receiver

NONCE = "n0nce-of-the-bot-0123456789"


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    bot = Receiver(SECRET)
    with serve_in_thread(bot.app()) as url:
        yield bot, f"{url}/callback"


def link_token(base: str, user_id: str) -> str:
    with ApiClient(Configuration(host=base, access_token=TOKEN)) as client:
        return str(MessagingApi(client).issue_link_token(user_id).link_token)


def dialog(base: str, token: str, nonce: str = NONCE) -> httpx.Response:
    query = urlencode({"linkToken": token, "nonce": nonce})
    return http().get(f"{base}/dialog/bot/accountLink?{query}")


def connect(base: str, webhook: str) -> None:
    http().patch(
        f"{base}/sandbox/channels/{CHANNEL}", json={"webhook_url": webhook}
    ).raise_for_status()


def test_the_dialog_sends_a_signed_account_link_event_for_the_tokens_user(
    sandbox_server: str, receiver: tuple[Receiver, str]
) -> None:
    bot, webhook = receiver
    connect(sandbox_server, webhook)
    token = link_token(sandbox_server, user(2))
    page = dialog(sandbox_server, token)
    assert page.status_code == 200 and "連携を受け付けました" in page.text
    (post,) = bot.posts
    assert post.signature_valid and post.parsed_types == ["accountLink"]
    (event,) = post.body["events"]
    assert event["source"] == {"type": "user", "userId": user(2)}
    assert event["link"] == {"result": "ok", "nonce": NONCE}
    assert len(event["replyToken"]) == 32
    again = dialog(sandbox_server, token)  # single use
    assert again.status_code == 400
    assert bot.posts[-1].body["events"][0]["link"] == {"result": "failed", "nonce": NONCE}


def test_an_expired_token_sends_failed(
    make_sandbox: Callable[..., str], receiver: tuple[Receiver, str]
) -> None:
    clock = FakeClock()
    base = make_sandbox(clock=clock)
    bot, webhook = receiver
    connect(base, webhook)
    token = link_token(base, user(0))
    clock.advance(601)
    assert dialog(base, token).status_code == 400
    assert bot.posts[-1].body["events"][0]["link"]["result"] == "failed"


def test_unknown_tokens_and_bad_nonces_show_an_error_and_send_nothing(
    sandbox_server: str, receiver: tuple[Receiver, str]
) -> None:
    bot, webhook = receiver
    connect(sandbox_server, webhook)
    assert dialog(sandbox_server, "no-such-token").status_code == 400
    token = link_token(sandbox_server, user(0))
    assert dialog(sandbox_server, token, nonce="short").status_code == 400
    assert dialog(sandbox_server, token, nonce="x" * 256).status_code == 400
    assert bot.posts == []
    assert dialog(sandbox_server, token).status_code == 200  # still unused


def test_another_residents_app_cannot_use_the_link(
    sandbox_server: str, receiver: tuple[Receiver, str]
) -> None:
    bot, webhook = receiver
    connect(sandbox_server, webhook)
    token = link_token(sandbox_server, user(0))
    url = f"https://access.line.me/dialog/bot/accountLink?linkToken={token}&nonce={NONCE}"
    opened = http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/account-link",
        json={"user_id": user(1), "url": url},
    )
    assert opened.json()["status"] == 403 and opened.json()["result"] is None
    assert bot.posts == []
    mine = (
        http()
        .post(
            f"{sandbox_server}/sandbox/channels/{CHANNEL}/account-link",
            json={"user_id": user(0), "url": url},
        )
        .json()
    )
    assert (mine["status"], mine["result"], mine["webhook"]["webhook_ok"]) == (200, "ok", True)
    wrong = http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/account-link",
        json={"user_id": user(0), "url": "https://example.com/login"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "not_account_link_url"


def test_link_tokens_need_auth_a_well_formed_user_and_a_friend(sandbox_server: str) -> None:
    path = f"{sandbox_server}/v2/bot/user/{user(0)}/linkToken"
    assert http().post(path).status_code == 401
    with ApiClient(Configuration(host=sandbox_server, access_token=TOKEN)) as client:
        api = MessagingApi(client)
        with pytest.raises(ApiException) as malformed:
            api.issue_link_token("U123")
        assert malformed.value.status == 400
        with pytest.raises(ApiException) as stranger:
            api.issue_link_token("U" + "f" * 32)
        assert (stranger.value.status, stranger.value.body) == (404, '{"message":"Not found"}')
    http().post(
        f"{sandbox_server}/sandbox/channels/{CHANNEL}/unfollow", json={"user_ids": [user(0)]}
    ).raise_for_status()
    blocked = http().post(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert blocked.status_code == 404
