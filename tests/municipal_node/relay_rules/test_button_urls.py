"""Which URLs a message button may open: https, or plain http to this very machine (a node tried
out on loopback, e.g. ``todoke demo``) — never plain http elsewhere, never another scheme."""

from __future__ import annotations

import pytest

from municipal_node.relay_rules.render import TemplateFields, button_target, is_button_url


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://www.city.example.lg.jp/kenshin", True),
        ("http://127.0.0.1:8081/c/23235/1/open", True),
        ("http://localhost:8081/c/23235/1/open", True),
        ("http://[::1]:8081/c/23235/1/open", True),
        ("http://www.city.example.lg.jp/kenshin", False),
        ("http://127.0.0.1.example.jp/phish", False),
        ("http://127.0.0.1:8081/a b", False),
        ("javascript:alert(1)", False),
        ("ftp://127.0.0.1/file", False),
        ("HTTP://127.0.0.1/", False),
        ("", False),
    ],
)
def test_is_button_url(url: str, allowed: bool) -> None:
    assert is_button_url(url) is allowed


def test_a_template_button_follows_the_same_rule() -> None:
    template = TemplateFields(text="本文", button_label="詳しく", button_url="{受付URL}")
    assert button_target(template, {"受付URL": "http://127.0.0.1:8081/x"}) == (
        "http://127.0.0.1:8081/x"
    )
    assert button_target(template, {"受付URL": "http://www.example.lg.jp/x"}) is None
