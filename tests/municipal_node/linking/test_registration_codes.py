"""Registration codes over the staff API and the CLI: issued once, printed once, then only
their state; encrypted at rest; refused clearly on bad input; tenant-scoped."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select

from municipal_node.audit.models import AuditEntry
from municipal_node.linking.codes import ALPHABET
from municipal_node.linking.models import RegistrationCode, RegistrationCodeIssue
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from tests.municipal_node.helpers import ADMIN_TOKEN, TENANT, TENANT_NAME, write_csv
from todoke.commands.node import node_group

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
URL = f"/api/tenants/{TENANT}/registration-codes"
CODE_RE = re.compile(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")


async def residents(node: Node, tmp_path: Path, *ids: str, tenant: str = TENANT) -> None:
    rows = [[rid, "single_parent", "", "東町", "", ""] for rid in ids]
    await node.import_csv(write_csv(tmp_path / f"{tenant}.csv", rows), tenant=tenant)


async def count(node: Node, model: type[object]) -> int:
    async with node.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_codes_are_shown_once_printed_once_and_then_only_their_state(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await residents(node, tmp_path, "R001", "R002")
    response = await node_http.post(URL, json={"resident_ids": ["R002", "R001"]}, headers=AUTH)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    codes = {c["resident_id"]: c["code"] for c in body["codes"]}
    assert set(codes) == {"R001", "R002"} and all(CODE_RE.fullmatch(c) for c in codes.values())
    assert body["expires_at"] == "2026-06-30T15:00:00+00:00"  # end of 2026-06-30 JST, 90 days
    async with node.sessions() as session:
        stored = list(await session.scalars(select(RegistrationCode)))
    for row in stored:
        assert row.sealed is not None and len(row.digest) == 32
        assert codes[row.resident_id].replace("-", "").encode() not in row.sealed + row.digest

    letters = await node_http.get(f"{URL}/{body['issue_id']}/letters", headers=AUTH)
    assert letters.status_code == 200
    assert letters.headers["content-type"].startswith("text/html")
    html = letters.text
    assert html.count("LINE連携用 登録コードのお知らせ") == 3  # title + one heading per letter
    assert html.count('<section class="letter">') == 2
    assert codes["R001"] in html and codes["R002"] in html
    assert "有効期限: 2026年6月30日（火）まで" in html
    assert f"LINEで「{TENANT_NAME}」の公式アカウントを友だち追加します。" in html
    assert html.index("R001") < html.index("R002")

    again = await node_http.get(f"{URL}/{body['issue_id']}/letters", headers=AUTH)
    assert again.status_code == 410 and again.json()["code"] == "LETTERS_ALREADY_RENDERED"
    assert again.json()["message"].startswith("この発行分のお知らせ文書は作成済みです")
    async with node.sessions() as session:
        assert all(r.sealed is None for r in await session.scalars(select(RegistrationCode)))
    state = (await node_http.get(f"{URL}/{body['issue_id']}", headers=AUTH)).json()
    assert [(c["resident_id"], c["state"]) for c in state["codes"]] == [
        ("R001", "issued"),
        ("R002", "issued"),
    ]
    assert state["letters_rendered_at"] is not None
    assert not any(code in json.dumps(state) for code in codes.values())
    async with node.sessions() as session:
        actions = [(a.action, a.count) for a in await session.scalars(select(AuditEntry))]
    assert ("registration_codes.issue", 2) in actions
    assert ("registration_codes.letters", 2) in actions
    assert ("registration_codes.read", 2) in actions


async def test_unknown_residents_or_bad_input_are_refused_and_nothing_is_issued(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await residents(node, tmp_path, "R001")
    unknown = await node_http.post(URL, json={"resident_ids": ["R001", "R999"]}, headers=AUTH)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_RESIDENTS"
    assert unknown.json()["unknown"] == ["R999"]
    assert unknown.json()["message"].startswith("登録されていない住民IDがあります（1件）")
    bad: dict[str, Any]
    for bad in (
        {"resident_ids": []},
        {"resident_ids": ["R001"], "valid_days": 0},
        {"resident_ids": ["R001"], "valid_days": 400},
        {"resident_ids": "R001"},
        {"resident_id": ["R001"]},
    ):
        response = await node_http.post(URL, json=bad, headers=AUTH)
        assert response.status_code == 422, bad
        assert response.json()["message"].startswith("リクエストの内容が正しくありません")
    not_json = await node_http.post(URL, content=b"{", headers=AUTH)
    assert not_json.status_code == 422
    assert await count(node, RegistrationCodeIssue) == 0
    assert await count(node, RegistrationCode) == 0


async def test_another_tenants_issue_is_not_found(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.add_tenant(code="23100", token="other-channel-token")
    await residents(node, tmp_path, "R001", tenant="23100")
    other = await node_http.post(
        "/api/tenants/23100/registration-codes", json={"resident_ids": ["R001"]}, headers=AUTH
    )
    issue_id = other.json()["issue_id"]
    for method, path in (
        ("GET", f"{URL}/{issue_id}"),
        ("GET", f"{URL}/{issue_id}/letters"),
        ("POST", f"{URL}/{issue_id}/revoke"),
        ("GET", f"{URL}/not-a-number"),
    ):
        response = await node_http.request(method, path, headers=AUTH, json={})
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "UNKNOWN_ISSUE"
    # R001 exists only in the other tenant
    mine = await node_http.post(URL, json={"resident_ids": ["R001"]}, headers=AUTH)
    assert mine.status_code == 404


async def test_revoking_an_issue_marks_its_unused_codes_revoked(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await residents(node, tmp_path, "R001", "R002")
    issue_id = (
        await node_http.post(URL, json={"resident_ids": ["R001", "R002"]}, headers=AUTH)
    ).json()["issue_id"]
    one = await node_http.post(
        f"{URL}/{issue_id}/revoke", json={"resident_ids": ["R002"]}, headers=AUTH
    )
    assert one.json() == {"issue_id": issue_id, "revoked": 1}
    none = await node_http.post(f"{URL}/{issue_id}/revoke", json={"resident_ids": []}, headers=AUTH)
    assert none.json()["revoked"] == 0
    states = (await node_http.get(f"{URL}/{issue_id}", headers=AUTH)).json()["codes"]
    assert [c["state"] for c in states] == ["issued", "revoked"]
    letters = await node_http.get(f"{URL}/{issue_id}/letters", headers=AUTH)
    assert letters.text.count('<section class="letter">') == 1  # no letter for a revoked code
    rest = await node_http.post(f"{URL}/{issue_id}/revoke", json={}, headers=AUTH)
    assert rest.json()["revoked"] == 1


async def test_the_cli_issues_codes_and_writes_the_letters(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    await residents(node, tmp_path, "R001", "R002", "R003")
    ids = tmp_path / "ids.txt"
    ids.write_text("# 発送分\nR002\n\nR003\n", encoding="utf-8")
    out = tmp_path / "letters.html"
    env = {
        "TODOKE_NODE_DATABASE_URL": node.settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    args = ["issue-codes", "--tenant", TENANT, "--resident", "R001", "--from-file", str(ids)]
    result = await asyncio.to_thread(
        CliRunner().invoke, node_group, [*args, "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "3 件の登録コードを発行しました" in result.output
    assert not CODE_RE.search(result.output)  # codes only in the letters file
    html = out.read_text("utf-8")
    assert len(CODE_RE.findall(html)) == 3
    assert out.stat().st_mode & 0o077 == 0
    bad = await asyncio.to_thread(
        CliRunner().invoke,
        node_group,
        ["issue-codes", "--tenant", TENANT, "--resident", "NOPE", "--out", str(tmp_path / "x")],
        env=env,
    )
    assert bad.exit_code == 1
    assert "登録されていない住民IDがあります（1件）" in bad.output and "NOPE" in bad.output
    assert not (tmp_path / "x").exists()
