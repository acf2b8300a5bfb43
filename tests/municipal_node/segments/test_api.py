"""Segments through the HTTP API: saved segments, live counts, previews, the small-cell rule,
roles, audit rows, and clear refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, write_csv
from tests.municipal_node.segments.population import befriend, prefer, small_town, uid
from tests.municipal_node.staff.client import OPERATOR, staff_headers

BASE = f"/api/tenants/{TENANT}"
OTHER = "23100"


async def audit_rows(node: Node, action: str) -> list[AuditEntry]:
    async with node.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows)


async def bigger_town(node: Node, tmp_path: Path) -> None:
    """small_town plus 12 linked friends in 南町 (R100…R111) with topic school."""
    await small_town(node, tmp_path)
    rows = [(f"R{100 + i}", "child_rearing", "", "南町", "", uid(100 + i)) for i in range(12)]
    from tests.municipal_node.segments.population import RESIDENTS

    await node.import_csv(write_csv(tmp_path / "big.csv", [*RESIDENTS, *rows]))
    await befriend(node, [uid(100 + i) for i in range(12)])
    for i in range(12):
        await prefer(node, uid(100 + i), topics=["school"])


async def create(
    http: httpx.AsyncClient, name: str, spec: dict[str, Any], headers: dict[str, str] = OPERATOR
) -> httpx.Response:
    return await http.post(
        f"{BASE}/segments",
        json={"name": name, "description": "説明", "spec": spec},
        headers=headers,
    )


async def test_segments_are_saved_listed_replaced_and_deleted(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    created = await create(
        node_http, "ひとり親（東町）", {"household": ["single_parent"], "districts": ["東町"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["spec"] == {"household": ["single_parent"], "districts": ["東町"]}
    assert (body["created_by"], body["updated_by"]) == ("operator", "operator")
    segment_id = body["id"]
    listed = await node_http.get(f"{BASE}/segments", headers=OPERATOR)
    assert [s["name"] for s in listed.json()] == ["ひとり親（東町）"]
    replaced = await node_http.put(
        f"{BASE}/segments/{segment_id}",
        json={"name": "子育て", "spec": {"interests": ["子育て"]}},
        headers=OPERATOR,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["spec"] == {"interests": ["child_rearing"]}
    fetched = await node_http.get(f"{BASE}/segments/{segment_id}", headers=OPERATOR)
    assert fetched.json()["name"] == "子育て"
    deleted = await node_http.delete(f"{BASE}/segments/{segment_id}", headers=OPERATOR)
    assert deleted.status_code == 204
    gone = await node_http.get(f"{BASE}/segments/{segment_id}", headers=OPERATOR)
    assert gone.status_code == 404
    assert gone.json()["detail"]["code"] == "SEGMENT_NOT_FOUND"


async def test_a_name_is_unique_per_tenant_and_a_second_one_is_refused(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code=OTHER)
    assert (await create(node_http, "全員", {})).status_code == 201
    again = await create(node_http, "全員", {"linked_only": True})
    assert again.status_code == 409
    assert again.json()["detail"]["message"].startswith("セグメント名「全員」は既に使われています")
    elsewhere = await node_http.post(
        f"/api/tenants/{OTHER}/segments", json={"name": "全員", "spec": {}}, headers=OPERATOR
    )
    assert elsewhere.status_code == 201


#: (an invalid spec, the field named, words of the Japanese message)
INVALID_SPECS: list[tuple[dict[str, Any], str, str]] = [
    ({"household": ["single"]}, "spec.household.0", "使える値ではありません"),
    ({"interests": ["ペット"]}, "spec.interests", "受信設定の話題 'ペット' はありません"),
    ({"districts": []}, "spec.districts", "空のリストは指定できません"),
    (
        {"child_age_months": {"min": 5, "max": 1}},
        "spec.child_age_months",
        "値が正しくありません",
    ),
    ({"school_grade": ["es7"]}, "spec.school_grade.0", "使える値ではありません"),
    ({"programs": ["児童扶養手当"]}, "spec.programs.0", "値が正しくありません"),
    ({"town": ["東町"]}, "spec.town", "この項目は使えません"),
    ({"linked_only": "maybe"}, "spec.linked_only", "true か false"),
]


async def test_an_invalid_spec_is_refused_in_japanese_first_and_nothing_is_saved(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    for spec, field, words in INVALID_SPECS:
        response = await create(node_http, "誤り", spec)
        assert response.status_code == 422, spec
        detail = response.json()["detail"]
        assert detail["code"] == "INVALID_INPUT"
        assert detail["message"].startswith("入力に誤りがあります")
        assert detail["errors"][0]["field"] == field, spec
        assert words in detail["errors"][0]["message"], spec
        assert " / " in detail["errors"][0]["message"]  # then English
        preview = await node_http.post(
            f"{BASE}/segments/preview", json={"spec": spec}, headers=OPERATOR
        )
        assert preview.status_code == 422
    assert (await node_http.get(f"{BASE}/segments", headers=OPERATOR)).json() == []


async def test_a_count_below_ten_is_shown_as_less_than_ten_and_each_count_is_audited(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await bigger_town(node, tmp_path)
    small = (await create(node_http, "ひとり親", {"household": ["single_parent"]})).json()
    large = (await create(node_http, "就学", {"interests": ["就学・教育"]})).json()
    nobody = (await create(node_http, "北町", {"districts": ["北町"]})).json()
    for segment, shown, actual in ((small, "<10", 2), (large, 12, 12), (nobody, "<10", 0)):
        response = await node_http.get(f"{BASE}/segments/{segment['id']}/count", headers=OPERATOR)
        assert response.status_code == 200, response.text
        assert response.json() == {"count": shown, "on": "2026-04-01"}
        entry = (await audit_rows(node, "segment.count"))[-1]
        assert (entry.actor, entry.count, entry.tenant_code) == ("operator", actual, TENANT)
        assert entry.detail["segment_id"] == segment["id"]
    assert len(await audit_rows(node, "segment.count")) == 3


async def test_a_preview_shows_editors_a_sample_of_five_only_from_ten_up(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await bigger_town(node, tmp_path)
    editor = await staff_headers(node_http, tenant=TENANT, username="henshu", role="editor")
    viewer = await staff_headers(node_http, tenant=TENANT, username="etsuran", role="viewer")
    spec = {"linked_only": True}  # U1 U2 U7 + 12 in 南町 = 15
    shown = await node_http.post(f"{BASE}/segments/preview", json={"spec": spec}, headers=editor)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["count"] == 15
    assert body["sample_withheld"] is None
    assert len(body["sample"]) == 5
    assert all(set(record) == {"resident_id", "district", "linked"} for record in body["sample"])
    assert {record["resident_id"] for record in body["sample"]} <= {
        "R1", "R2", "R7", *(f"R{100 + i}" for i in range(12)),
    }  # fmt: skip
    assert all(record["linked"] and record["district"] for record in body["sample"])
    text = shown.text
    assert "U0000" not in text and "single_parent" not in text  # no LINE ids, no attributes

    everyone = await node_http.post(f"{BASE}/segments/preview", json={"spec": {}}, headers=editor)
    records = everyone.json()["sample"]
    assert everyone.json()["count"] == 17
    assert {"resident_id": None, "district": None, "linked": False} in records  # U3 / U4

    as_viewer = await node_http.post(
        f"{BASE}/segments/preview", json={"spec": spec}, headers=viewer
    )
    assert as_viewer.json()["count"] == 15
    assert as_viewer.json()["sample"] == []
    assert as_viewer.json()["sample_withheld"].startswith("見本は編集者にだけ")

    few = await node_http.post(
        f"{BASE}/segments/preview", json={"spec": {"districts": ["東町"]}}, headers=editor
    )
    assert few.json()["count"] == "<10"
    assert few.json()["sample"] == []
    assert few.json()["sample_withheld"].startswith("10件未満")

    sealed = await node_http.post(
        f"{BASE}/segments/preview",
        json={"spec": {"household": ["child_rearing"]}, "on": "2026-04-01"},
        headers=editor,
    )
    assert sealed.json()["count"] == 13
    assert len(sealed.json()["sample"]) == 5

    audited = await audit_rows(node, "segment.preview")
    assert [(e.actor, e.count, e.detail["sample_shown"]) for e in audited] == [
        ("staff:henshu", 15, 5),
        ("staff:henshu", 17, 5),
        ("staff:etsuran", 15, 0),
        ("staff:henshu", 2, 0),
        ("staff:henshu", 13, 5),
    ]
    assert audited[0].detail["spec"] == spec


async def test_only_editors_write_and_every_role_reads(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    segment = (await create(node_http, "全員", {})).json()
    for role in ("viewer", "approver", "editor"):
        headers = await staff_headers(node_http, tenant=TENANT, username=f"as-{role}", role=role)
        read = await node_http.get(f"{BASE}/segments/{segment['id']}", headers=headers)
        assert read.status_code == 200
        count = await node_http.get(f"{BASE}/segments/{segment['id']}/count", headers=headers)
        assert count.status_code == 200
        write = await create(node_http, f"by-{role}", {}, headers=headers)
        assert write.status_code == (201 if role == "editor" else 403), write.text
    nobody = await node_http.get(f"{BASE}/segments")
    assert nobody.status_code == 401


async def test_another_tenants_segment_is_not_found_under_this_tenant(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    await node.add_tenant(code=OTHER)
    theirs = await node_http.post(
        f"/api/tenants/{OTHER}/segments", json={"name": "名古屋", "spec": {}}, headers=OPERATOR
    )
    their_id = theirs.json()["id"]
    for method, path, body in (
        ("GET", f"/segments/{their_id}", None),
        ("GET", f"/segments/{their_id}/count", None),
        ("PUT", f"/segments/{their_id}", {"name": "x", "spec": {}}),
        ("DELETE", f"/segments/{their_id}", None),
    ):
        response = await node_http.request(method, f"{BASE}{path}", json=body, headers=OPERATOR)
        assert response.status_code == 404, (method, path)
        assert "名古屋" not in response.text
    still = await node_http.get(f"/api/tenants/{OTHER}/segments/{their_id}", headers=OPERATOR)
    assert still.json()["name"] == "名古屋"


async def test_a_segment_used_by_a_relay_rule_cannot_be_deleted(
    node: Node, node_http: httpx.AsyncClient
) -> None:
    await node.add_tenant()
    segment = (await create(node_http, "ひとり親", {"household": ["single_parent"]})).json()
    rule = await node_http.post(
        f"{BASE}/relay-rules",
        json={"name": "手当の通知", "segment_id": segment["id"]},
        headers=OPERATOR,
    )
    assert rule.status_code == 201, rule.text
    refused = await node_http.delete(f"{BASE}/segments/{segment['id']}", headers=OPERATOR)
    assert refused.status_code == 409
    assert "「手当の通知」" in refused.json()["detail"]["message"]
    assert (
        await node_http.get(f"{BASE}/segments/{segment['id']}", headers=OPERATOR)
    ).status_code == 200
