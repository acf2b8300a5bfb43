"""Imports log nothing personal: no resident id, birth date, district or LINE user id, at any
level, from our code or the libraries under it (SQL parameters included)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, TENANT, write_csv

USER = "U" + "5e" * 16
PERSONAL = ("Z7781234", "2018-07-23", "蟹江町字須成", USER, "Z7789999", "2016-02-30")
GOOD = [
    ("Z7781234", "single_parent", "2018-07-23", "蟹江町字須成", "jido-fuyo-teate", USER),
    ("R2", "elderly", "", "", "", ""),
]
BAD = [*GOOD, ("Z7789999", "", "2016-02-30", "蟹江町字須成", "", "")]


def assert_nothing_personal(records: list[logging.LogRecord]) -> None:
    assert records, "DEBUG capture saw nothing: the test would prove nothing"
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for value in PERSONAL:
            assert value not in text, f"{record.name}: {text[:300]}"


async def test_imports_log_nothing_personal(
    node: Node, node_http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await node.add_tenant()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"}
    url = f"/api/tenants/{TENANT}/residents/import"
    good = write_csv(tmp_path / "good.csv", GOOD).read_bytes()
    bad = write_csv(tmp_path / "bad.csv", BAD).read_bytes()
    caplog.set_level(logging.DEBUG)
    for body, query, status in (
        (good, "", 200),
        (good, "", 200),
        (bad, "", 422),
        (bad, "?skip_bad=true&", 422),  # 1 of 3 bad: above the share
    ):
        response = await node_http.post(url + query, content=body, headers=headers)
        assert response.status_code == status
    await node.import_csv(tmp_path / "bad.csv", skip_bad=True, max_bad_share=0.5)
    assert_nothing_personal(caplog.records)
