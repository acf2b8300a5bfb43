"""The chat pages render each resident's talk screen, with every piece of content escaped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.line_sandbox.conftest import CHANNEL
from tests.line_sandbox.helpers import FakeClock, http, post, text, user

ATTACK = '<script>alert("x")</script>'


def chat(base: str, user_id: str) -> str:
    response = http().get(f"{base}/sandbox/chat/{CHANNEL}/{user_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_text_message_is_html_escaped(sandbox_server: str) -> None:
    post(sandbox_server, "/v2/bot/message/push", {"to": user(0), "messages": [text(ATTACK)]})
    page = chat(sandbox_server, user(0))
    assert ATTACK not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_flex_alt_text_contents_and_links_are_escaped(sandbox_server: str) -> None:
    flex = {
        "type": "flex",
        "altText": f"alt {ATTACK}",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {"type": "text", "text": f"本文 {ATTACK}"},
                    {
                        "type": "button",
                        "action": {"type": "uri", "label": "危険", "uri": "javascript:alert(1)"},
                    },
                    {
                        "type": "button",
                        "action": {
                            "type": "uri",
                            "label": "申請する",
                            "uri": 'https://example.jp/a?b="><script>',
                        },
                    },
                ],
            },
        },
    }
    post(sandbox_server, "/v2/bot/message/push", {"to": user(1), "messages": [flex]})
    page = chat(sandbox_server, user(1))
    assert "<script>" not in page
    assert "javascript:" not in page
    assert "alt &lt;script&gt;" in page and "本文 &lt;script&gt;" in page
    assert 'href="https://example.jp/a?b=&quot;&gt;&lt;script&gt;"' in page
    assert "申請する" in page and "危険" in page


def test_chat_page_is_a_japanese_mobile_page_with_jst_times(
    make_sandbox: Callable[..., str],
) -> None:
    base = make_sandbox(clock=FakeClock(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)))
    page = chat(base, user(2))
    assert '<html lang="ja">' in page
    assert 'name="viewport"' in page
    assert "メッセージはまだありません" in page
    post(base, "/v2/bot/message/push", {"to": user(2), "messages": [text("届きました")]})
    page = chat(base, user(2))
    assert "届きました" in page and "公式" in page
    # 2026-06-30 23:30 UTC is 2026-07-01 08:30 in Japan (a Wednesday)
    assert "7月1日(水)" in page and ">08:30<" in page


def test_index_lists_channels_users_and_counts(sandbox_server: str) -> None:
    post(sandbox_server, "/v2/bot/message/multicast", {"to": [user(0)], "messages": [text()]})
    page = http().get(f"{sandbox_server}/sandbox/chat").text
    assert CHANNEL in page
    assert f"/sandbox/chat/{CHANNEL}/{user(0)}" in page
    assert "1通" in page and "友だち" in page


def test_unknown_user_page_is_404(sandbox_server: str) -> None:
    response = http().get(f"{sandbox_server}/sandbox/chat/{CHANNEL}/U{'0' * 32}")
    assert response.status_code == 404
