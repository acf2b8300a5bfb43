"""The sandbox's chat pages, in a real browser, show what a resident's phone would."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from line_sandbox.residents import simulated_user_id
from tests.browser import phone_page
from todoke.demo.processes import start_service

pytestmark = pytest.mark.e2e

TOKEN = "browser-test-token"


def test_chat_page_shows_the_message_and_escapes_markup(tmp_path: Path) -> None:
    sandbox = start_service(
        "sandbox",
        ["sandbox", "serve", "--channel-name", "yatomi", "--channel-secret", "s" * 32,
         "--channel-token", TOKEN, "--friends", "3"],
        env={},
        workdir=tmp_path,
    )  # fmt: skip
    try:
        user = simulated_user_id("yatomi", 1)
        text = "【弥富市】児童扶養手当の現況届 <script>window.__pwned = 1</script> & お知らせ"
        response = httpx.post(
            f"{sandbox.url}/v2/bot/message/multicast",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"to": [user], "messages": [{"type": "text", "text": text}]},
        )
        assert response.status_code == 200, response.text

        with phone_page() as page:
            page.goto(f"{sandbox.url}/sandbox/chat")
            assert "yatomi" in page.content()
            page.goto(f"{sandbox.url}/sandbox/chat/yatomi/{user}")
            bubble = page.get_by_text("児童扶養手当の現況届", exact=False)
            assert bubble.count() >= 1
            assert "<script>window.__pwned = 1</script>" in bubble.first.inner_text()
            assert page.evaluate("window.__pwned === undefined")
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

            other = simulated_user_id("yatomi", 2)
            page.goto(f"{sandbox.url}/sandbox/chat/yatomi/{other}")
            assert page.get_by_text("児童扶養手当の現況届", exact=False).count() == 0
    finally:
        sandbox.stop()
