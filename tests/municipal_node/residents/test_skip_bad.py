"""``?skip_bad=true``: good lines in, bad lines reported and counted, a safety share."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from municipal_node.residents.models import Resident
from municipal_node.residents.service import TooManyBadLinesError
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, TENANT, write_csv

HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"}
URL = f"/api/tenants/{TENANT}/residents/import"


def population(count: int) -> list[tuple[str, ...]]:
    return [(f"R{i:03d}", "elderly", "", "東町", "", "") for i in range(count)]


async def stored_ids(node: Node) -> set[str]:
    async with node.sessions() as session:
        result = await session.scalars(
            select(Resident.resident_id).where(Resident.tenant_code == TENANT)
        )
        return set(result)


async def post(client: httpx.AsyncClient, body: bytes, query: str = "") -> httpx.Response:
    return await client.post(URL + query, content=body, headers=HEADERS)


async def test_skip_bad_imports_the_good_lines_and_reports_the_bad(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "before.csv", population(20)))
    rows = population(20)
    rows[4] = ("R004", "rich", "", "東町", "", "")  # bad: its resident is kept as it was
    del rows[7]  # R007 leaves
    rows.append(("R900", "", "2020-02-30", "", "", ""))  # bad and new
    body = write_csv(tmp_path / "r.csv", rows).read_bytes()
    response = await post(node_http, body, "?skip_bad=true")
    assert response.status_code == 200, response.text
    result = response.json()
    assert {k: result[k] for k in ("rows", "inserted", "updated", "removed", "skipped")} == {
        "rows": 18,
        "inserted": 0,
        "updated": 0,
        "removed": 1,
        "skipped": 2,
    }
    assert [(i["line"], i["code"]) for i in result["issues"]] == [
        (6, "BAD_HOUSEHOLD"),
        (21, "BAD_DATE"),
    ]
    assert result["issue_count"] == 2
    assert await stored_ids(node) == {f"R{i:03d}" for i in range(20)} - {"R007"}
    async with node.sessions() as session:
        entry = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()))).first()
    assert entry is not None
    assert (entry.action, entry.count, entry.detail["skipped"]) == ("residents.import", 18, 2)


async def test_without_skip_bad_one_bad_line_refuses_the_file(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "before.csv", population(3)))
    rows = [*population(2), ("R777", "rich", "", "", "", "")]
    response = await post(node_http, write_csv(tmp_path / "r.csv", rows).read_bytes())
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["records"], body["bad_lines"]) == ("CSV_INVALID", 3, 1)
    assert "--skip-bad" in body["message"]
    assert await stored_ids(node) == {"R000", "R001", "R002"}


async def test_skip_bad_refuses_a_file_with_too_many_bad_lines(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "before.csv", population(20)))
    rows = population(20)
    for i in (1, 2, 3):  # 3 of 20 = 15 % > 10 %
        rows[i] = (f"R{i:03d}", "", "", "", "Bad_Code", "")
    response = await post(
        node_http, write_csv(tmp_path / "r.csv", rows).read_bytes(), "?skip_bad=true"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "TOO_MANY_BAD_LINES"
    assert "3/20" in body["message"] and "10.0%" in body["message"]
    assert [i["line"] for i in body["issues"]] == [3, 4, 5]
    assert await stored_ids(node) == {f"R{i:03d}" for i in range(20)}


async def test_the_share_is_a_setting(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    rows = [*population(9), ("R999", "rich", "", "", "", "")]  # 10 % bad
    path = write_csv(tmp_path / "r.csv", rows)
    summary = await node.import_csv(path, skip_bad=True, max_bad_share=0.1)
    assert (summary.rows, summary.skipped) == (9, 1)
    await node.import_csv(write_csv(tmp_path / "empty.csv", []))
    with pytest.raises(TooManyBadLinesError) as caught:
        await node.import_csv(path, skip_bad=True, max_bad_share=0.05)
    assert caught.value.report.bad_lines == {11}
    assert await stored_ids(node) == set()


async def test_a_broken_file_is_refused_even_with_skip_bad(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "before.csv", population(5)))
    header_only_wrong = b"resident_id,household\nR1,\n"
    response = await post(node_http, header_only_wrong, "?skip_bad=true")
    assert response.status_code == 422
    assert response.json()["issues"][0]["code"] == "BAD_HEADER"
    good = write_csv(tmp_path / "r.csv", population(5)).read_bytes()
    unterminated = good + b'R900,,,"open,,\n'
    response = await post(node_http, unterminated, "?skip_bad=true")
    assert response.status_code == 422
    assert response.json()["issues"][-1]["code"] == "BAD_CSV"
    assert len(await stored_ids(node)) == 5
