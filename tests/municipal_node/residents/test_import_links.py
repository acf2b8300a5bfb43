"""Re-imports and LINE links: a link made by ID連携 survives; a CSV value sets or moves one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from municipal_node.residents.models import Resident
from municipal_node.residents.service import CsvRejectedError
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import TENANT, write_csv

USER_A = "U" + "a" * 32
USER_B = "U" + "b" * 32
USER_C = "U" + "c" * 32

ROWS = [
    ("000123", "single_parent", "2019-04-01", "東町", "jido-fuyo-teate", USER_A),
    ("000124", "elderly", "", "西町", "", ""),
    ("000125", "", "", "", "", ""),
]


async def links(node: Node) -> dict[str, str | None]:
    async with node.sessions() as session:
        result = await session.execute(
            select(Resident.resident_id, Resident.line_user_id).where(
                Resident.tenant_code == TENANT
            )
        )
        return {str(rid): uid for rid, uid in result.all()}


async def link_by_id_renkei(node: Node, resident_id: str, user_id: str) -> None:
    """What ID連携 does when the resident completes LINE's account-link flow."""
    async with node.sessions.begin() as session:
        await session.execute(
            update(Resident)
            .where(Resident.tenant_code == TENANT, Resident.resident_id == resident_id)
            .values(line_user_id=user_id)
        )


async def test_a_reimport_keeps_links_made_by_id_renkei(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    path = write_csv(tmp_path / "r.csv", ROWS)
    await node.import_csv(path)
    await link_by_id_renkei(node, "000124", USER_B)
    summary = await node.import_csv(path)
    assert (summary.inserted, summary.updated, summary.removed) == (0, 0, 0)
    assert await links(node) == {"000123": USER_A, "000124": USER_B, "000125": None}
    # a changed row with an empty CSV link keeps its link too
    changed = [ROWS[0], ("000124", "elderly;disability", "", "西町", "", ""), ROWS[2]]
    summary = await node.import_csv(write_csv(tmp_path / "r2.csv", changed))
    assert (summary.inserted, summary.updated, summary.removed) == (0, 1, 0)
    assert (await links(node))["000124"] == USER_B


async def test_a_csv_value_sets_the_link(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", ROWS))
    rows = [ROWS[0], ("000124", "elderly", "", "西町", "", USER_C), ROWS[2]]
    summary = await node.import_csv(write_csv(tmp_path / "r2.csv", rows))
    assert (summary.inserted, summary.updated, summary.removed) == (0, 1, 0)
    assert (await links(node))["000124"] == USER_C


async def test_links_can_swap_between_two_records(node: Node, tmp_path: Path) -> None:
    await node.add_tenant()
    first = [ROWS[0], ("000124", "elderly", "", "西町", "", USER_B)]
    await node.import_csv(write_csv(tmp_path / "r.csv", first))
    swapped = [(*ROWS[0][:5], USER_B), ("000124", "elderly", "", "西町", "", USER_A)]
    summary = await node.import_csv(write_csv(tmp_path / "r2.csv", swapped))
    assert (summary.inserted, summary.updated, summary.removed) == (0, 2, 0)
    assert await links(node) == {"000123": USER_B, "000124": USER_A}


async def test_the_link_of_a_removed_record_can_be_given_to_another(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", ROWS))
    await link_by_id_renkei(node, "000125", USER_B)
    rows = [ROWS[0], ("000124", "elderly", "", "西町", "", USER_B)]  # 000125 leaves
    summary = await node.import_csv(write_csv(tmp_path / "r2.csv", rows))
    assert (summary.inserted, summary.updated, summary.removed) == (0, 1, 1)
    assert await links(node) == {"000123": USER_A, "000124": USER_B}


async def test_a_csv_link_held_by_another_staying_record_is_a_bad_line(
    node: Node, tmp_path: Path
) -> None:
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", ROWS))
    await link_by_id_renkei(node, "000125", USER_B)
    rows = [ROWS[0], ("000124", "elderly", "", "西町", "", USER_B), ROWS[2]]
    path = write_csv(tmp_path / "r2.csv", rows)
    with pytest.raises(CsvRejectedError) as caught:
        await node.import_csv(path)
    [issue] = caught.value.issues
    assert (issue.line, issue.column, issue.code) == (
        3,
        "line_user_id",
        "LINE_USER_LINKED_ELSEWHERE",
    )
    assert "4 行目" in issue.message_ja and "line 4" in issue.message_en
    assert await links(node) == {"000123": USER_A, "000124": None, "000125": USER_B}

    # with skip_bad the line is left out; its resident is kept exactly as it was
    summary = await node.import_csv(path, skip_bad=True, max_bad_share=0.5)
    assert (summary.rows, summary.skipped, summary.removed) == (2, 1, 0)
    assert await links(node) == {"000123": USER_A, "000124": None, "000125": USER_B}


async def test_skip_bad_keeps_the_resident_of_a_bad_line_and_its_link_unchanged(
    node: Node, tmp_path: Path
) -> None:
    """A typo in one field of a linked resident's line must not delete the record (and with
    it their ID連携): with ``skip_bad`` the line is left out and the record stays as it was."""
    await node.add_tenant()
    await node.import_csv(write_csv(tmp_path / "r.csv", ROWS))
    await link_by_id_renkei(node, "000125", USER_B)
    typo = (ROWS[2][0], ROWS[2][1], "2019-02-30", *ROWS[2][3:])  # no such date
    unreadable = ("", "elderly", "", "西町", "", "")  # no resident id: matches nobody
    path = write_csv(tmp_path / "r2.csv", [ROWS[0], typo, unreadable])
    summary = await node.import_csv(path, skip_bad=True, max_bad_share=0.7)
    assert (summary.rows, summary.skipped, summary.removed) == (1, 2, 1)  # 000124 left
    assert await links(node) == {"000123": USER_A, "000125": USER_B}
