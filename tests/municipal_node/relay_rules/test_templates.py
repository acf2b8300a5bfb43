"""Templates through the HTTP API: saved only when no personal data can reach a message,
rendered to LINE text + Flex messages the real SDK accepts."""

from __future__ import annotations

from typing import Any

import httpx
from linebot.v3.messaging import Message

from municipal_node.relay_rules.checks import LONGEST_NOTICE
from municipal_node.relay_rules.render import (
    DEFAULT_TEMPLATE,
    TemplateFields,
    render_messages,
    utf16_units,
)
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, TENANT_NAME, make_notice
from tests.municipal_node.staff.client import OPERATOR, staff_headers

BASE = f"/api/tenants/{TENANT}"

GOOD = {
    "name": "児童扶養手当のお知らせ",
    "text": "【{自治体名}】{見出し}\n\n{本文}\n\n受付開始: {受付開始}\n締切: {締切}\n"
    "お問い合わせ: {担当課} {電話番号}\n詳しくは: {受付URL}",
    "button_label": "申請する",
    "button_url": "{受付URL}",
    "alt_text": "{自治体名}からのお知らせ: {見出し}",
    "department": "子育て支援課",
    "phone": "0567-65-1111",
    "apply_url": "https://www.city.yatomi.lg.jp/jido-fuyo",
}


def template(**changes: Any) -> dict[str, Any]:
    value = dict(GOOD)
    value.update(changes)
    return value


async def save(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post(f"{BASE}/templates", json=body, headers=OPERATOR)


def sdk_accepts(message: dict[str, Any]) -> None:
    """The real line-bot-sdk parses the object and gives back exactly the same JSON."""
    assert Message.from_dict(message).to_dict() == message


async def test_a_good_template_is_saved_and_renders_text_and_a_flex_bubble(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    saved = await save(node_http, GOOD)
    assert saved.status_code == 201, saved.text
    notice = make_notice(
        program={
            "code": "jido-fuyo-teate",
            "name": "児童扶養手当",
            "legal_basis": "児童扶養手当法",
        },
        action={
            "opens": "2026-08-01T00:00:00+09:00",
            "closes": "2026-08-31T17:00:00+09:00",
            "url": "https://www.example.lg.jp/genkyo",
        },
    )
    preview = await node_http.post(
        f"{BASE}/templates/preview",
        json={"template_id": saved.json()["id"], "notice": notice},
        headers=OPERATOR,
    )
    assert preview.status_code == 200, preview.text
    text, flex = preview.json()["messages"]
    assert text == {
        "type": "text",
        "text": "【弥富市】現況届の受付が始まりました\n\n8月31日までに提出してください。\n\n"
        "受付開始: 2026年8月1日（土）\n締切: 2026年8月31日（月）17:00\n"
        "お問い合わせ: 子育て支援課 0567-65-1111\n"
        "詳しくは: https://www.city.yatomi.lg.jp/jido-fuyo",
    }
    assert flex["type"] == "flex"
    assert flex["altText"] == "弥富市からのお知らせ: 現況届の受付が始まりました"
    bubble = flex["contents"]
    assert bubble["header"]["contents"][0]["text"] == TENANT_NAME
    assert bubble["body"]["contents"][0]["text"] == "現況届の受付が始まりました"
    assert bubble["footer"]["contents"][0]["action"] == {
        "type": "uri",
        "label": "申請する",
        "uri": "https://www.city.yatomi.lg.jp/jido-fuyo",
    }
    sdk_accepts(text)
    sdk_accepts(flex)


async def test_lines_whose_placeholder_has_no_value_are_left_out_and_no_https_means_no_button(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    body = template(apply_url=None)
    notice = make_notice(action=None)  # no window, no URL
    preview = await node_http.post(
        f"{BASE}/templates/preview", json={"template": body, "notice": notice}, headers=OPERATOR
    )
    assert preview.status_code == 200, preview.text
    text, flex = preview.json()["messages"]
    assert text["text"] == (
        "【弥富市】現況届の受付が始まりました\n\n8月31日までに提出してください。\n\n"
        "お問い合わせ: 子育て支援課 0567-65-1111"
    )
    assert "footer" not in flex["contents"]
    sdk_accepts(flex)


async def test_the_default_template_is_previewed_when_none_is_given(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    preview = await node_http.post(f"{BASE}/templates/preview", json={}, headers=OPERATOR)
    assert preview.status_code == 200, preview.text
    text, flex = preview.json()["messages"]
    assert text["text"].startswith("【弥富市】児童扶養手当の現況届の受付が始まります\n\n")
    assert text["text"].endswith("詳しくは: https://www.example.lg.jp/jido-fuyo/genkyo")
    assert flex["altText"] == "【弥富市】児童扶養手当の現況届の受付が始まります"
    assert flex["contents"]["footer"]["contents"][0]["action"]["uri"].startswith("https://")


PERSONAL_PLACEHOLDERS = [
    "氏名",
    "名前",
    "住所",
    "生年月日",
    "宛名番号",
    "住民番号",
    "resident_id",
    "user_id",
    "電話番号(本人)",
    "ＵＳＥＲ＿ＩＤ",
    "子どもの名前",
]


async def test_a_placeholder_that_would_carry_personal_data_is_refused_naming_it(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for placeholder in PERSONAL_PLACEHOLDERS:
        response = await save(node_http, template(text=f"{{{placeholder}}}様\n{{見出し}}"))
        assert response.status_code == 422, placeholder
        detail = response.json()["detail"]
        assert detail["code"] == "TEMPLATE_REFUSED"
        assert detail["errors"][0]["code"] == "PERSONAL_DATA_PLACEHOLDER", placeholder
        assert detail["errors"][0]["field"] == "text"
        assert f"{{{placeholder}}}" in detail["message"]
        assert "個人情報" in detail["message"]
    assert (await node_http.get(f"{BASE}/templates", headers=OPERATOR)).json() == []


#: (changes to a good template, the field refused, the reason's code)
REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"text": "{受付終了}までに"}, "text", "UNKNOWN_PLACEHOLDER"),
    ({"alt_text": "{お知らせ}"}, "alt_text", "UNKNOWN_PLACEHOLDER"),
    ({"text": "{見出し"}, "text", "STRAY_BRACE"),
    ({"text": "宛先 U" + "0123456789abcdef" * 2}, "text", "PERSONAL_DATA_LINE_USER_ID"),
    ({"text": "番号 123456789012 の方"}, "text", "PERSONAL_DATA_NUMBER"),
    ({"text": "番号 1234-5678-9012"}, "text", "PERSONAL_DATA_NUMBER"),
    ({"text": "番号 １２３４５６７８９０１２"}, "text", "PERSONAL_DATA_NUMBER"),
    ({"text": "連絡は taro.yamada@example.jp へ"}, "text", "PERSONAL_DATA_EMAIL"),
    ({"department": "担当 hanako@city.example.lg.jp"}, "department", "PERSONAL_DATA_EMAIL"),
    ({"button_label": "{氏名}"}, "button_label", "PLACEHOLDER_NOT_ALLOWED"),
    ({"button_url": "http://www.city.yatomi.lg.jp/"}, "button_url", "NOT_HTTPS"),
    ({"button_url": "{本文}"}, "button_url", "BAD_BUTTON_URL"),
    ({"apply_url": "javascript:alert(1)"}, "apply_url", "NOT_HTTPS"),
    ({"phone": "kosodate"}, "phone", "BAD_PHONE"),
    ({"text": "{本文}\n{本文}\n{本文}"}, "text", "TEXT_TOO_LONG"),
    ({"text": "あ" * 4990 + "{見出し}"}, "text", "TEXT_TOO_LONG"),
    ({"alt_text": "{本文}"}, "alt_text", "ALT_TEXT_TOO_LONG"),
    # a program name may be 200 characters of 2 UTF-16 units each: 400 + the rest > 400
    ({"alt_text": "{自治体名}から{制度名}のお知らせ"}, "alt_text", "ALT_TEXT_TOO_LONG"),
]


async def test_a_template_is_refused_with_the_reason_and_field(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for changes, field, code in REFUSALS:
        response = await save(node_http, template(**changes))
        assert response.status_code == 422, (changes, response.text)
        detail = response.json()["detail"]
        assert detail["code"] == "TEMPLATE_REFUSED"
        assert {"field": field, "code": code} in [
            {"field": e["field"], "code": e["code"]} for e in detail["errors"]
        ], (changes, detail)
        assert detail["message"].startswith("テンプレートを保存できません")
    assert (await node_http.get(f"{BASE}/templates", headers=OPERATOR)).json() == []


async def test_a_refused_change_leaves_the_saved_template_as_it_was(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    saved = (await save(node_http, GOOD)).json()
    changed = await node_http.put(
        f"{BASE}/templates/{saved['id']}",
        json=template(text="{氏名}様 {見出し}"),
        headers=OPERATOR,
    )
    assert changed.status_code == 422
    assert "{氏名}" in changed.json()["detail"]["message"]
    kept = await node_http.get(f"{BASE}/templates/{saved['id']}", headers=OPERATOR)
    assert kept.json()["text"] == GOOD["text"]
    unsaved = await node_http.post(
        f"{BASE}/templates/preview",
        json={"template": template(text="{住所}")},
        headers=OPERATOR,
    )
    assert unsaved.status_code == 422


def test_every_message_fits_line_limits_for_the_longest_notice_the_contract_allows() -> None:
    for fields in (
        DEFAULT_TEMPLATE,
        TemplateFields(**{k: v for k, v in GOOD.items() if k != "name"}),
    ):
        text, flex = render_messages(fields, LONGEST_NOTICE, tenant_name="弥富市")
        assert utf16_units(text["text"]) <= 5000
        assert utf16_units(flex["altText"]) <= 400
        sdk_accepts(text)
        sdk_accepts(flex)


async def test_templates_are_written_by_editors_read_by_all_and_kept_per_tenant(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code="23100")
    viewer = await staff_headers(node_http, tenant=TENANT, username="etsuran", role="viewer")
    refused = await node_http.post(f"{BASE}/templates", json=GOOD, headers=viewer)
    assert refused.status_code == 403
    saved = (await save(node_http, GOOD)).json()
    assert (await node_http.get(f"{BASE}/templates", headers=viewer)).status_code == 200
    elsewhere = await node_http.get(f"/api/tenants/23100/templates/{saved['id']}", headers=OPERATOR)
    assert elsewhere.status_code == 404
    again = await save(node_http, GOOD)
    assert again.status_code == 409
    rule = await node_http.post(
        f"{BASE}/relay-rules", json={"name": "r", "template_id": saved["id"]}, headers=OPERATOR
    )
    assert rule.status_code == 201
    in_use = await node_http.delete(f"{BASE}/templates/{saved['id']}", headers=OPERATOR)
    assert in_use.status_code == 409
    assert in_use.json()["detail"]["code"] == "TEMPLATE_IN_USE"
