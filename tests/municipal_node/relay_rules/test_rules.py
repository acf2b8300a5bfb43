"""Relay rules through the HTTP API, and the decision ``plan_for`` takes with them."""

from __future__ import annotations

from typing import Any

import httpx

from contracts.notice import Notice
from municipal_node.relay_rules.decide import SendPlan, plan_for
from municipal_node.segments import SegmentSpec
from municipal_node.tenants.service import load_config
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, make_notice
from tests.municipal_node.staff.client import OPERATOR

BASE = f"/api/tenants/{TENANT}"


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{BASE}{path}", json=body, headers=OPERATOR)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def plan(node: Node, notice: dict[str, Any], publisher: str | None = None) -> SendPlan | None:
    parsed = Notice.model_validate(notice)
    async with node.sessions() as session:
        tenant = await load_config(session, TENANT, sealer=node.sealer)
        assert tenant is not None
        return await plan_for(
            session, tenant=tenant, notice=parsed, publisher=publisher or parsed.publisher
        )


async def test_without_rules_every_notice_goes_to_its_own_audience_automatically(
    node: Node,
) -> None:
    await node.add_tenant()
    result = await plan(node, make_notice(audience={"household": ["single_parent"]}))
    assert result is not None
    assert result.rule_id is None
    assert result.spec == SegmentSpec(household=["single_parent"])
    assert (result.approval, result.two_person_threshold) == ("auto", None)
    text, flex = result.messages
    assert text["text"] == (
        "【弥富市】現況届の受付が始まりました\n\n8月31日までに提出してください。\n\n"
        "詳しくは: https://www.example.lg.jp/genkyo"
    )
    assert flex["contents"]["footer"]["contents"][0]["action"]["uri"] == (
        "https://www.example.lg.jp/genkyo"
    )


async def test_when_rules_exist_but_none_matches_the_notice_is_not_relayed(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await post(node_http, "/relay-rules", {"name": "県の手当", "publishers": ["pref-23"]})
    assert await plan(node, make_notice()) is None
    await post(node_http, "/relay-rules", {"name": "止めた規則", "enabled": False})
    assert await plan(node, make_notice()) is None


#: (match lists of a rule, whether make_notice() — gov-cfa, benefit, jido-fuyo-teate, "00" —
#: matches it)
MATCHES: list[tuple[dict[str, Any], bool]] = [
    ({"publishers": ["gov-cfa", "pref-23"]}, True),
    ({"publishers": ["pref-23"]}, False),
    ({"categories": ["benefit"]}, True),
    ({"categories": ["health", "event"]}, False),
    ({"program_codes": ["jido-fuyo-teate"]}, True),
    ({"program_codes": ["jido-teate"]}, False),
    ({"areas": ["00"]}, True),
    ({"areas": ["23", "23235"]}, False),  # the notice is addressed to "00" only
    ({"publishers": ["gov-cfa"], "categories": ["health"]}, False),
    ({}, True),
]


async def test_a_rule_matches_when_every_list_it_has_holds(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for number, (match, matches) in enumerate(MATCHES):
        rule = await post(node_http, "/relay-rules", {"name": f"規則{number}", **match})
        result = await plan(node, make_notice())
        assert (result is not None and result.rule_id == rule["id"]) is matches, match
        await node_http.delete(f"{BASE}/relay-rules/{rule['id']}", headers=OPERATOR)


async def test_rules_are_tried_by_priority_then_id_and_disabled_ones_are_skipped(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    broad = await post(node_http, "/relay-rules", {"name": "その他", "priority": 900})
    first = await post(node_http, "/relay-rules", {"name": "手当A", "priority": 10})
    twin = await post(node_http, "/relay-rules", {"name": "手当B", "priority": 10})
    off = await post(node_http, "/relay-rules", {"name": "停止中", "priority": 1, "enabled": False})
    listed = await node_http.get(f"{BASE}/relay-rules", headers=OPERATOR)
    assert [r["id"] for r in listed.json()] == [off["id"], first["id"], twin["id"], broad["id"]]
    result = await plan(node, make_notice())
    assert result is not None and result.rule_id == first["id"]
    await node_http.put(
        f"{BASE}/relay-rules/{first['id']}",
        json={"name": "手当A", "priority": 10, "categories": ["health"]},
        headers=OPERATOR,
    )
    result = await plan(node, make_notice())
    assert result is not None and result.rule_id == twin["id"]
    await node_http.delete(f"{BASE}/relay-rules/{twin['id']}", headers=OPERATOR)
    result = await plan(node, make_notice())
    assert result is not None and result.rule_id == broad["id"]


async def test_a_rule_sends_to_its_segment_narrowed_in_its_words_with_approval(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    segment = await post(
        node_http,
        "/segments",
        {
            "name": "ひとり親",
            "spec": {"household": ["single_parent"], "districts": ["東町", "西町"]},
        },
    )
    template = await post(
        node_http,
        "/templates",
        {"name": "短文", "text": "{自治体名}より: {見出し}", "department": "子育て支援課"},
    )
    rule = await post(
        node_http,
        "/relay-rules",
        {
            "name": "ひとり親（東町・関心あり）",
            "segment_id": segment["id"],
            "extra": {"districts": ["東町"], "interests": ["ひとり親支援"]},
            "template_id": template["id"],
            "mode": "approval",
            "two_person_threshold": 100,
        },
    )
    result = await plan(node, make_notice(audience={}))
    assert result is not None
    assert result.rule_id == rule["id"]
    assert result.spec == SegmentSpec(
        household=["single_parent"], districts=["東町"], interests=["single_parent"]
    )
    assert result.messages[0] == {"type": "text", "text": "弥富市より: 現況届の受付が始まりました"}
    assert result.messages[1]["contents"]["header"]["contents"][1]["text"] == "子育て支援課"
    assert (result.approval, result.two_person_threshold) == ("approval", 100)


async def test_a_rule_without_segment_uses_the_notices_audience(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await post(node_http, "/relay-rules", {"name": "通知の対象へ", "extra": {"linked_only": True}})
    result = await plan(node, make_notice(audience={"school_grade": ["es1_entrant"]}))
    assert result is not None
    assert result.spec == SegmentSpec(school_grade=["es1_entrant"], linked_only=True)
    assert result.approval == "auto"


#: (a bad rule, the field named, words of the Japanese message)
BAD_RULES: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "x", "publishers": ["ministry"]}, "publishers.0", "値が正しくありません"),
    ({"name": "x", "categories": []}, "categories", "空のリスト"),
    ({"name": "x", "categories": ["welfare"]}, "categories.0", "使える値ではありません"),
    ({"name": "x", "areas": ["999"]}, "areas.0", "値が正しくありません"),
    ({"name": "x", "mode": "manual"}, "mode", "使える値ではありません"),
    ({"name": "x", "two_person_threshold": 5}, "$", "mode が approval のときだけ"),
    (
        {"name": "x", "extra": {"household": ["elderly"]}},
        "extra.household",
        "この項目は使えません",
    ),
    ({"name": "x", "segment_id": 999}, "segment_id", "セグメント 999 はありません"),
    ({"name": "x", "template_id": 999}, "template_id", "テンプレート 999 はありません"),
    ({"name": " "}, "name", "名前を入れてください"),
]


async def test_a_bad_rule_is_refused_with_a_clear_reason_and_nothing_is_saved(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for body, field, words in BAD_RULES:
        response = await node_http.post(f"{BASE}/relay-rules", json=body, headers=OPERATOR)
        assert response.status_code == 422, (body, response.text)
        errors = response.json()["detail"]["errors"]
        assert errors[0]["field"] == field, body
        assert words in errors[0]["message"], body
    assert (await node_http.get(f"{BASE}/relay-rules", headers=OPERATOR)).json() == []


async def test_a_rule_cannot_point_at_another_tenants_segment_or_template(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code="23100")
    theirs = await node_http.post(
        "/api/tenants/23100/segments", json={"name": "名古屋", "spec": {}}, headers=OPERATOR
    )
    response = await node_http.post(
        f"{BASE}/relay-rules",
        json={"name": "x", "segment_id": theirs.json()["id"]},
        headers=OPERATOR,
    )
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "UNKNOWN_REFERENCE"
    rule = await post(node_http, "/relay-rules", {"name": "自分の"})
    other = await node_http.get(f"/api/tenants/23100/relay-rules/{rule['id']}", headers=OPERATOR)
    assert other.status_code == 404
