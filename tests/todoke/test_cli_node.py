"""``todoke node …`` through click, against a real database."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contracts.keys import private_key_from_seed, public_jwk
from todoke.commands.node import node_group

ROOT = {"kid": "hub-aichi/root1", "jwk": public_jwk(private_key_from_seed(bytes(32)))}
HEADER = "resident_id,household,child_birth_dates,district,programs,line_user_id\n"


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "TODOKE_NODE_DATABASE_URL": database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(node_group, list(args), env=env, catch_exceptions=False)


def add_tenant(
    env: dict[str, str], *extra: str, code: str = "23235", key: str | None = None
) -> Result:
    return run(
        env,
        "add-tenant", "--code", code, "--name", "弥富市", "--hub-url", "http://127.0.0.1:8080",
        "--hub-root-key", key or json.dumps(ROOT), "--line-channel-secret", "s",
        "--line-channel-token", "t", "--line-api-base-url", "http://127.0.0.1:8082", *extra,
    )  # fmt: skip


def test_migrate_then_add_tenant_from_a_key_file(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "migrate").exit_code == 0
    key_file = tmp_path / "root.json"
    key_file.write_text(json.dumps(ROOT), "utf-8")
    result = add_tenant(env, key=str(key_file))
    assert result.exit_code == 0, result.output
    assert "23235" in result.output
    again = add_tenant(env)
    assert again.exit_code == 1
    assert "already exists" in again.output


@pytest.mark.parametrize(
    ("code", "key", "message"),
    [
        ("2323", None, "5-digit JIS code"),
        ("99999", None, "5-digit JIS code"),
        ("23235", json.dumps({"kid": "gov-cfa/x", "jwk": ROOT["jwk"]}), "bad hub root key kid"),
        ("23235", json.dumps({"kid": "hub-aichi/r", "jwk": {"kty": "RSA"}}), "not an Ed25519 JWK"),
        ("23235", "/nonexistent/root.json", "cannot read"),
    ],
)
def test_add_tenant_explains_bad_input(
    env: dict[str, str], code: str, key: str | None, message: str
) -> None:
    result = add_tenant(env, code=code, key=key)
    assert result.exit_code != 0
    assert message in result.output


def test_import_residents_prints_a_summary(env: dict[str, str], tmp_path: Path) -> None:
    add_tenant(env)
    csv_file = tmp_path / "r.csv"
    csv_file.write_text(HEADER + "R1,elderly,,東町,,\nR2,,,,,\n", "utf-8")
    result = run(env, "import-residents", "--tenant", "23235", str(csv_file))
    assert result.exit_code == 0, result.output
    assert "imported: 2" in result.output


def test_import_residents_with_bad_lines_reports_them_and_exits_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    add_tenant(env)
    csv_file = tmp_path / "r.csv"
    csv_file.write_text(HEADER + "R1,rich,,,,\nR2,,1999-13-01,,,\n", "utf-8")
    result = CliRunner().invoke(
        node_group, ["import-residents", "--tenant", "23235", str(csv_file)], env=env
    )
    assert result.exit_code == 1
    assert "2行目 [household]" in result.output and "line 2" in result.output
    assert "3行目 [child_birth_dates]" in result.output
    status = run(env, "status", "--tenant", "23235")
    assert "通知はまだありません" in status.output


def test_import_for_an_unknown_tenant_fails_clearly(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "migrate")
    csv_file = tmp_path / "r.csv"
    csv_file.write_text(HEADER, "utf-8")
    result = run(env, "import-residents", "--tenant", "23235", str(csv_file))
    assert result.exit_code == 1
    assert "unknown tenant 23235" in result.output


def test_status_for_an_unknown_tenant_fails_clearly(env: dict[str, str]) -> None:
    result = run(env, "status", "--tenant", "23235")
    assert result.exit_code == 1
    assert "unknown tenant" in result.output


def test_missing_encryption_key_is_a_clear_error(database_url: str) -> None:
    result = CliRunner().invoke(
        node_group,
        ["migrate"],
        env={"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ""},
    )
    assert result.exit_code == 1
    assert "TODOKE_NODE_ENCRYPTION_KEY" in result.output


def test_status_prints_a_table_with_japanese_headers(env: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from municipal_node.db.engine import sync_url
    from municipal_node.relay.models import StoredNotice

    add_tenant(env)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    engine = create_engine(sync_url(env["TODOKE_NODE_DATABASE_URL"]))
    with Session(engine) as session, session.begin():
        session.add(
            StoredNotice(
                tenant_code="23235", publisher="gov-cfa", notice_id="01J0000000000000000000000A",
                document_id="01J0000000000000000000000A", revision=1, msg_type="Alert",
                status="Test", category="benefit", program_code="jido-fuyo-teate",
                headline="現況届の受付が始まりました", effective=now, expires=now, seq=1,
                kid="gov-cfa/2026a", digest="0" * 64, received_at=now, verified_at=now,
                envelope={}, receipt={}, state="skipped", state_reason="status=Test", targeted=0,
                updated_at=now,
            )
        )  # fmt: skip
    engine.dispose()
    result = run(env, "status", "--tenant", "23235")
    assert result.exit_code == 0, result.output
    header, rule, row = result.output.splitlines()
    assert header.split() == [
        "seq",
        "発信者",
        "通知ID",
        "見出し",
        "種別",
        "状態",
        "対象",
        "送信",
        "失敗",
        "理由",
    ]
    assert row.split()[:6] == [
        "1",
        "gov-cfa",
        "01J0000000000000000000000A",
        "現況届の受付が始まりました",
        "Alert/Test",
        "skipped",
    ]
    as_json = json.loads(run(env, "status", "--tenant", "23235", "--json").output)
    assert as_json[0]["state"] == "skipped"
