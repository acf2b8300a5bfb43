"""``hub/schema.graphql`` is generated from the code and must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from contracts.errors import RejectionCode
from hub.graphql.types import RejectionCodeType
from hub.schema_export import SCHEMA_FILE, main, render

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "hub/schema.graphql is stale: run `python -m hub.schema_export`"
    )


def test_check_exits_1_when_stale_and_0_when_fresh(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    out.write_text("type Query { old: Int }\n", encoding="utf-8")
    assert main(["--check", "--out", str(out)]) == 1
    assert main(["--out", str(out)]) == 0
    assert main(["--check", "--out", str(out)]) == 0


def test_module_runs_as_a_script() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hub.schema_export", "--check"], cwd=ROOT, capture_output=True
    )
    assert completed.returncode == 0, completed.stderr


def test_schema_has_the_fixed_operations() -> None:
    text = render()
    assert "notices(after: Int! = 0, first: Int! = 100): NoticeFeed!" in text
    assert "keySet: SignedEnvelope!" in text
    assert "publishNotice(envelope: SignedEnvelopeInput!): PublishNoticeResult!" in text
    assert "union PublishNoticeResult = PublishAccepted | PublishRejected" in text


def test_rejection_codes_match_the_contract() -> None:
    assert [c.value for c in RejectionCodeType] == [c.value for c in RejectionCode]
