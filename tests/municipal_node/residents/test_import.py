from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from municipal_node.audit.models import AuditEntry
from municipal_node.residents.models import Resident
from municipal_node.residents.schemas import open_attributes
from municipal_node.residents.service import CsvRejectedError, UnknownTenantError
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, TENANT, write_csv

USER_A = "U" + "a" * 32
USER_B = "U" + "b" * 32

GOOD = [
    (
        "000123",
        "single_parent;child_rearing",
        "2019-04-01;2021-11-30",
        "東町",
        "jido-fuyo-teate",
        USER_A,
    ),
    ("000124", "elderly", "", "西町", "", ""),
    ("000125", "", "", "", "", USER_B),
]


async def residents(node: Node) -> dict[str, Resident]:
    async with node.sessions() as session:
        rows = await session.scalars(select(Resident).where(Resident.tenant_code == TENANT))
        return {row.resident_id: row for row in rows}


async def test_a_good_file_is_imported_with_attributes_sealed(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    summary = await node.import_csv(write_csv(tmp_path / "r.csv", GOOD))
    assert (summary.rows, summary.inserted, summary.updated, summary.removed) == (3, 3, 0, 0)
    stored = await residents(node)
    assert set(stored) == {"000123", "000124", "000125"}
    first = stored["000123"]
    assert (first.district, first.line_user_id) == ("東町", USER_A)
    assert stored["000124"].line_user_id is None
    attributes = open_attributes(
        node.sealer, tenant_code=TENANT, resident_id="000123", sealed=first.sealed
    )
    assert attributes.household == ("single_parent", "child_rearing")
    assert [d.isoformat() for d in attributes.child_birth_dates] == ["2019-04-01", "2021-11-30"]
    assert attributes.programs == ("jido-fuyo-teate",)


async def test_sensitive_attributes_are_not_in_the_raw_database_column(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", GOOD))
    async with node.sessions() as session:
        raw = (await session.execute(text("SELECT sealed FROM residents"))).scalars().all()
    blob = b"".join(bytes(value) for value in raw)
    for plaintext in ("single_parent", "child_rearing", "2019-04-01", "jido-fuyo-teate", "elderly"):
        assert plaintext.encode() not in blob


async def test_reimport_is_idempotent_and_removes_residents_no_longer_listed(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    path = write_csv(tmp_path / "r.csv", GOOD)
    await node.import_csv(path)
    before = await residents(node)
    again = await node.import_csv(path)
    assert (again.rows, again.inserted, again.updated, again.removed) == (3, 0, 0, 0)
    after = await residents(node)
    # unchanged rows are not rewritten: same blob (fresh nonce on every seal), same digest
    assert {k: (r.sealed, r.digest) for k, r in after.items()} == {
        k: (r.sealed, r.digest) for k, r in before.items()
    }

    # 000123 changes, 000124 stays as it is, 000125 leaves
    changed = [
        ("000123", "single_parent", "", "東町", "", ""),
        ("000124", "elderly", "", "西町", "", ""),
    ]
    summary = await node.import_csv(write_csv(tmp_path / "r2.csv", changed))
    assert (summary.rows, summary.inserted, summary.updated, summary.removed) == (2, 0, 1, 1)
    stored = await residents(node)
    assert set(stored) == {"000123", "000124"}
    assert stored["000124"].sealed == before["000124"].sealed
    assert stored["000123"].line_user_id == USER_A  # an empty CSV value keeps the link
    attributes = open_attributes(
        node.sealer, tenant_code=TENANT, resident_id="000123", sealed=stored["000123"].sealed
    )
    assert (attributes.household, attributes.child_birth_dates) == (("single_parent",), ())


async def test_every_import_writes_an_audit_row(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", GOOD))
    async with node.sessions() as session:
        entries = list(await session.scalars(select(AuditEntry)))
    assert [(e.actor, e.action, e.count) for e in entries] == [("cli", "residents.import", 3)]
    assert entries[0].detail == {"inserted": 3, "updated": 0, "removed": 0, "skipped": 0}


BAD_LINES = [
    # (row, expected (column, code))
    (("", "", "", "", "", ""), ("resident_id", "BAD_RESIDENT_ID")),
    (("R 1", "", "", "", "", ""), ("resident_id", "BAD_RESIDENT_ID")),
    (("R2", "rich", "", "", "", ""), ("household", "BAD_HOUSEHOLD")),
    (("R3", "elderly;;pregnant", "", "", "", ""), ("household", "BAD_HOUSEHOLD")),
    (("R4", "", "2020-02-30", "", "", ""), ("child_birth_dates", "BAD_DATE")),
    (("R5", "", "2020/01/01", "", "", ""), ("child_birth_dates", "BAD_DATE")),
    (("R6", "", "", "あ" * 65, "", ""), ("district", "BAD_DISTRICT")),
    (("R7", "", "", "", "Jido_Teate", ""), ("programs", "BAD_PROGRAM")),
    (("R8", "", "", "", "", "U" + "A" * 32), ("line_user_id", "BAD_LINE_USER_ID")),
    (("R9", "", "", "", "", "U123"), ("line_user_id", "BAD_LINE_USER_ID")),
    (("000123", "", "", "", "", ""), ("resident_id", "DUPLICATE_RESIDENT_ID")),
    (("R10", "", "", "", "", USER_A), ("line_user_id", "DUPLICATE_LINE_USER_ID")),
    (("R11", "", ""), (None, "BAD_COLUMNS")),
]


async def test_every_bad_line_is_reported_and_nothing_is_imported(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "before.csv", GOOD[1:2]))
    rows = [GOOD[0], *(row for row, _ in BAD_LINES)]
    with pytest.raises(CsvRejectedError) as caught:
        await node.import_csv(write_csv(tmp_path / "bad.csv", rows))
    reported = [(issue.line, issue.column, issue.code) for issue in caught.value.issues]
    expected = [(line + 3, column, code) for line, (_, (column, code)) in enumerate(BAD_LINES)]
    assert reported == expected
    assert all(issue.message_ja and issue.message_en for issue in caught.value.issues)
    assert set(await residents(node)) == {"000124"}  # unchanged


@pytest.mark.parametrize(
    ("content", "line", "code"),
    [
        (b"", 1, "EMPTY_FILE"),
        (b"resident_id,household\nR1,\n", 1, "BAD_HEADER"),
        (
            "resident_id,household,child_birth_dates,district,programs,line_user_id\n"
            "R1,,,\x93\x8c,,\n".encode().replace(b"\xc2\x93\xc2\x8c", b"\x93\x8c"),
            2,
            "BAD_ENCODING",
        ),
        (
            b'resident_id,household,child_birth_dates,district,programs,line_user_id\nR1,,,"open,,\n',
            2,
            "BAD_CSV",
        ),
    ],
)
async def test_file_level_problems_are_reported_with_their_line(
    node: Node, tmp_path: Path, content: bytes, line: int, code: str
) -> None:
    await node.add_tenant()
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(CsvRejectedError) as caught:
        await node.import_csv(path)
    assert (caught.value.issues[0].line, caught.value.issues[0].code) == (line, code)


async def test_a_bom_and_quoted_multiline_fields_are_accepted(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    path = tmp_path / "bom.csv"
    path.write_bytes(
        "\ufeffline_user_id,resident_id,household,child_birth_dates,district,programs\n"
        ',R1,"elderly; disability",,"東町",\n'.encode()
    )
    summary = await node.import_csv(path)
    assert summary.rows == 1


async def test_import_for_an_unknown_tenant_is_refused(node: Node, tmp_path: Path) -> None:
    with pytest.raises(UnknownTenantError):
        await node.import_csv(write_csv(tmp_path / "r.csv", GOOD))


async def test_import_in_batches_handles_more_rows_than_one_batch(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    rows = [(f"R{i:05d}", "child_rearing", "2020-01-01", "", "", "") for i in range(2500)]
    summary = await node.import_csv(write_csv(tmp_path / "big.csv", rows))
    assert summary.rows == 2500
    async with node.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Resident)) == 2500


async def test_the_api_imports_a_csv_body_and_reports_bad_lines(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await node.add_tenant()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"}
    good = write_csv(tmp_path / "r.csv", GOOD).read_bytes()
    response = await node_http.post(
        f"/api/tenants/{TENANT}/residents/import", content=good, headers=headers
    )
    assert response.status_code == 200
    assert response.json() == {
        "rows": 3,
        "inserted": 3,
        "updated": 0,
        "removed": 0,
        "skipped": 0,
        "issue_count": 0,
        "issues": [],
    }
    bad = write_csv(tmp_path / "b.csv", [("R1", "rich", "", "", "", "")]).read_bytes()
    response = await node_http.post(
        f"/api/tenants/{TENANT}/residents/import", content=bad, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "CSV_INVALID"
    assert [(i["line"], i["column"]) for i in response.json()["issues"]] == [(2, "household")]
    unauthenticated = await node_http.post(f"/api/tenants/{TENANT}/residents/import", content=good)
    assert unauthenticated.status_code == 401
    async with node.sessions() as session:
        actors = list(await session.scalars(select(AuditEntry.actor)))
    assert actors == ["operator"]


async def test_slices_and_batches_smaller_than_the_file_give_the_same_result(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from municipal_node.residents import service

    monkeypatch.setattr(service, "BATCH_SIZE", 4)
    monkeypatch.setattr(service, "APPLY_ROWS", 7)
    await node.add_tenant()
    rows = [(f"R{i:03d}", "elderly", "", f"町{i % 3}", "", "") for i in range(30)]
    first = await node.import_csv(write_csv(tmp_path / "a.csv", rows))
    assert (first.rows, first.inserted) == (30, 30)
    rows = [
        (rid, "disability" if int(rid[1:]) % 5 == 0 else household, dates, district, p, u)
        for rid, household, dates, district, p, u in rows
        if rid != "R013"
    ]
    summary = await node.import_csv(write_csv(tmp_path / "b.csv", rows))
    assert (summary.rows, summary.inserted, summary.updated, summary.removed) == (29, 0, 6, 1)
    stored = await residents(node)
    assert len(stored) == 29 and "R013" not in stored
    households = {
        rid: open_attributes(
            node.sealer, tenant_code=TENANT, resident_id=rid, sealed=row.sealed
        ).household
        for rid, row in stored.items()
    }
    assert {rid for rid, h in households.items() if h == ("disability",)} == {
        f"R{i:03d}" for i in range(0, 30, 5)
    }
