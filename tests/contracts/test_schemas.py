from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts.schemas import MODELS, SCHEMA_DIR, expected_files, stale_files, write_files
from contracts.vectors import VECTORS_FILE
from tests.contracts.conftest import notice


def schema(name: str) -> Draft202012Validator:
    document = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_committed_schemas_are_up_to_date() -> None:
    assert stale_files() == [], "run: python -m contracts.schemas"
    assert sorted(expected_files()) == sorted(f"{name}.schema.json" for name in MODELS)


def test_check_command_exits_1_when_stale(tmp_path: Path) -> None:
    assert stale_files(tmp_path) == sorted(expected_files())
    assert write_files(tmp_path) == list(expected_files())
    assert stale_files(tmp_path) == []
    (tmp_path / "notice.schema.json").write_text("{}", "utf-8")
    assert stale_files(tmp_path) == ["notice.schema.json"]
    command = [sys.executable, "-m", "contracts.schemas", "--check"]
    stale = subprocess.run([*command, "--dir", str(tmp_path)], capture_output=True, check=False)
    assert stale.returncode == 1
    assert b"stale:" in stale.stderr and b"notice.schema.json" in stale.stderr
    fresh = subprocess.run(command, capture_output=True, check=False)
    assert fresh.returncode == 0, fresh.stderr


def test_vectors_validate_against_the_schemas() -> None:
    vectors = json.loads(VECTORS_FILE.read_text("utf-8"))
    for vector in vectors["notices"]:
        schema("notice").validate(vector["input"])
        schema("envelope").validate({k: vector[k] for k in ("protected", "payload", "signature")})
    schema("keyset").validate(vectors["keyset"]["input"])
    schema("receipt").validate(vectors["receipt"]["input"])


@pytest.mark.parametrize(
    "value",
    [
        notice(extra=1),
        notice(sent="2027-04-01T09:00:00"),
        notice(revision=0),
        notice(revision="1"),
        notice(area=["48"]),
        notice(msg_type="alert"),
        notice(content={"ja": {"headline": "あ" * 61, "body": "b"}}),
    ],
)
def test_notice_schema_refuses_what_the_model_refuses(value: dict[str, Any]) -> None:
    assert not schema("notice").is_valid(value)


def test_envelope_schema_requires_unpadded_base64url() -> None:
    assert schema("envelope").is_valid({"protected": "ab", "payload": "c-_", "signature": ""})
    assert not schema("envelope").is_valid({"protected": "ab==", "payload": "c", "signature": "d"})
    assert not schema("envelope").is_valid(
        {"protected": "a", "payload": "c", "signature": "d", "x": "y"}
    )


def test_report_schema_allows_null_counts() -> None:
    counts = dict.fromkeys(
        ("targeted", "sent", "failed", "blocked", "opened", "clicked", "applied"), 0
    )
    value = {
        "schema": "todoke.report/1",
        "municipality": "23235",
        "notice": {"publisher": "pref-23", "notice_id": "01JQ8Z5X3M4N6P7R8S9T0V1W2X"},
        "phase": "single",
        "as_of": "2027-04-02T12:00:00+09:00",
        "counts": {**counts, "opened": None},
        "suppressed": ["opened"],
    }
    assert schema("report").is_valid(value)
    assert not schema("report").is_valid({**value, "counts": {**counts, "opened": -1}})
