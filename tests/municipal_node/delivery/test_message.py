from __future__ import annotations

from contracts.notice import Notice
from municipal_node.delivery.message import MAX_UTF16_UNITS, build_text, utf16_units
from tests.municipal_node.helpers import make_notice


def notice(**changes: object) -> Notice:
    return Notice.model_validate(make_notice(**changes))


def test_the_text_is_tenant_headline_body_and_link() -> None:
    assert build_text(tenant_name="弥富市", notice=notice()) == (
        "【弥富市】現況届の受付が始まりました\n\n8月31日までに提出してください。"
        "\n\n詳しくは: https://www.example.lg.jp/genkyo"
    )


def test_without_an_action_url_there_is_no_link_line() -> None:
    assert "詳しくは" not in build_text(tenant_name="弥富市", notice=notice(action=None))


def test_a_text_over_the_line_limit_is_cut_in_the_body_at_a_character_boundary() -> None:
    body = "🌸" * 1000  # 2,000 UTF-16 units
    text = build_text(
        tenant_name="市" * 3500, notice=notice(content={"ja": {"headline": "見出し", "body": body}})
    )
    assert utf16_units(text) <= MAX_UTF16_UNITS
    assert text.startswith("【" + "市" * 3500 + "】見出し\n\n🌸")
    assert "🌸…\n\n詳しくは: https://www.example.lg.jp/genkyo" in text
    text.encode("utf-16-le")  # no lone surrogate
