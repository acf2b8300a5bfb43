"""``todoke hub …`` and ``todoke publish``: what staff type and what they read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contracts.jws import SignedEnvelope
from contracts.keys import private_key_to_pem, public_jwk
from tests.hub.helpers import CFA_KEY, PREF_KEY, ROOT_KEY, make_notice
from todoke.commands.hub import hub_group, publish_command

TODOKE = Path(sys.executable).parent / "todoke"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "root.pem"
    root.write_bytes(private_key_to_pem(ROOT_KEY))
    return {
        "TODOKE_HUB_DATABASE_URL": database_url,
        "TODOKE_HUB_HUB_ID": "aichi",
        "TODOKE_HUB_ROOT_KEY_FILE": str(root),
    }


def hub(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(hub_group, list(args), env=env, catch_exceptions=False)


def add_cfa(env: dict[str, str], *extra: str, public_key: str | None = None) -> Result:
    key = public_key or json.dumps(public_jwk(CFA_KEY))
    return hub(
        env,
        "add-publisher",
        "--id", "gov-cfa",
        "--name", "こども家庭庁",
        "--kid", "gov-cfa/2026a",
        "--public-key", key,
        "--area", "00",
        "--category", "benefit",
        "--category", "procedure",
        *extra,
    )  # fmt: skip


def test_migrate_reports_up_to_date(env: dict[str, str]) -> None:
    result = hub(env, "migrate")
    assert result.exit_code == 0
    assert "database is up to date" in result.output


def test_add_and_list_publishers(env: dict[str, str], tmp_path: Path) -> None:
    result = add_cfa(env, "--not-before", "2026-01-01T00:00:00+09:00", "--valid-days", "200")
    assert result.exit_code == 0, result.output
    assert "publisher added: gov-cfa (こども家庭庁)" in result.output
    assert "key added: gov-cfa/2026a" in result.output
    jwk_file = tmp_path / "pref.jwk"
    jwk_file.write_text(json.dumps(public_jwk(PREF_KEY)))
    result = hub(
        env,
        "add-publisher",
        "--id", "pref-23", "--name", "愛知県", "--kid", "pref-23/2026a",
        "--public-key", str(jwk_file), "--area", "23", "--category", "benefit",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listing = hub(env, "list-publishers")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0] == "gov-cfa  こども家庭庁"
    assert lines[1].startswith(
        "  gov-cfa/2026a  2025-12-31T15:00:00+00:00 – 2026-07-19T15:00:00+00:00"
    )
    assert "area=00 category=benefit,procedure" in lines[1]
    assert lines[2] == "pref-23  愛知県"


def test_empty_registry_says_so(env: dict[str, str]) -> None:
    result = hub(env, "list-publishers")
    assert result.exit_code == 0
    assert "no publishers registered" in result.output


@pytest.mark.parametrize(
    ("args", "public_key", "message"),
    [
        (["--area", "999"], None, "bad area code(s): 999"),
        (["--valid-days", "401"], None, "at most 400 days"),
        (["--not-after", "2099-01-01T00:00:00Z"], None, "at most 400 days"),
        (["--not-before", "yesterday"], None, "not an RFC 3339 time"),
        (["--not-before", "2026-01-01T00:00:00"], None, "needs an offset"),
        ([], "/nonexistent/key.jwk", "cannot read /nonexistent/key.jwk"),
        ([], '{"kty":"OKP"', "give the public key as JWK JSON"),
        ([], '{"kty":"OKP","crv":"Ed25519","x":"abc"}', "bad public key"),
    ],
)
def test_add_publisher_refusals_are_clear(
    env: dict[str, str], args: list[str], public_key: str | None, message: str
) -> None:
    result = add_cfa(env, *args, public_key=public_key)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_kid_and_publisher_id_are_refused(env: dict[str, str]) -> None:
    result = hub(
        env,
        "add-publisher", "--id", "cfa", "--name", "x", "--kid", "cfa/1",
        "--public-key", json.dumps(public_jwk(CFA_KEY)), "--area", "00", "--category", "benefit",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "bad publisher id 'cfa'" in result.output
    result = hub(
        env,
        "add-publisher", "--id", "gov-cfa", "--name", "x", "--kid", "pref-23/1",
        "--public-key", json.dumps(public_jwk(CFA_KEY)), "--area", "00", "--category", "benefit",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "does not belong to publisher gov-cfa" in result.output


def test_same_kid_twice_is_refused(env: dict[str, str]) -> None:
    assert add_cfa(env).exit_code == 0
    result = add_cfa(env)
    assert result.exit_code == 1
    assert "already registered" in result.output


def test_root_key_prints_kid_and_public_jwk(env: dict[str, str]) -> None:
    result = hub(env, "root-key")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"kid": "hub-aichi/root1", "jwk": public_jwk(ROOT_KEY)}


def test_root_key_without_key_file_is_clear_error(env: dict[str, str]) -> None:
    result = hub({**env, "TODOKE_HUB_ROOT_KEY_FILE": ""}, "root-key")
    assert result.exit_code == 1
    assert "TODOKE_HUB_ROOT_KEY_FILE" in result.output


def test_invalid_hub_id_is_clear_error(env: dict[str, str]) -> None:
    result = hub({**env, "TODOKE_HUB_HUB_ID": "Aichi Hub"}, "root-key")
    assert result.exit_code == 1
    assert "TODOKE_HUB_HUB_ID" in result.output
    assert "Traceback" not in result.output


def test_serve_without_root_key_fails_before_listening(env: dict[str, str]) -> None:
    result = hub({**env, "TODOKE_HUB_ROOT_KEY_FILE": "/nonexistent.pem"}, "serve", "--port", "0")
    assert result.exit_code == 1
    assert "cannot read root key file /nonexistent.pem" in result.output


@pytest.fixture
def served_hub(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``todoke hub serve --port 0 --ready-file`` in a subprocess; yields its URL."""
    ready = tmp_path / "hub.ready"
    process = subprocess.Popen(
        [str(TODOKE), "hub", "serve", "--port", "0", "--ready-file", str(ready)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"hub did not start: {output}")
            time.sleep(0.05)
        yield json.loads(ready.read_text())["url"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_publish_signs_and_submits_to_a_served_hub(
    env: dict[str, str], served_hub: str, tmp_path: Path
) -> None:
    # The served hub runs on the real clock: the key starts a day ago, the notice is sent now.
    now = datetime.now(UTC).replace(microsecond=0)
    assert add_cfa(env, "--not-before", (now - timedelta(days=1)).isoformat()).exit_code == 0
    notice = make_notice(
        sent=now.isoformat(),
        effective=now.isoformat(),
        expires=(now + timedelta(days=30)).isoformat(),
    )
    notice_file = tmp_path / "notice.json"
    notice_file.write_text(json.dumps(notice, ensure_ascii=False), encoding="utf-8")
    key_file = tmp_path / "cfa.pem"
    key_file.write_bytes(private_key_to_pem(CFA_KEY))
    out = tmp_path / "envelope.json"
    args = [str(notice_file), "--key", str(key_file), "--kid", "gov-cfa/2026a", "--hub", served_hub]
    runner = CliRunner()
    result = runner.invoke(publish_command, [*args, "--envelope-out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("受理されました / accepted: seq=1 digest=")
    envelope = SignedEnvelope.model_validate_json(out.read_text())
    assert json.loads(envelope.payload_bytes()) == notice
    again = runner.invoke(publish_command, args)
    assert again.exit_code == 0
    assert "already accepted: seq=1" in again.output

    wrong_kid = runner.invoke(publish_command, [*args[:4], "gov-cfa/other", *args[5:]])
    assert wrong_kid.exit_code == 1
    assert "rejected: UNKNOWN_KEY" in wrong_kid.output


def test_publish_errors_are_clear(tmp_path: Path) -> None:
    key_file = tmp_path / "cfa.pem"
    key_file.write_bytes(private_key_to_pem(CFA_KEY))
    notice_file = tmp_path / "notice.json"
    notice_file.write_text("{broken", encoding="utf-8")
    runner = CliRunner()
    args = ["--key", str(key_file), "--kid", "gov-cfa/2026a", "--hub", "http://127.0.0.1:9"]
    result = runner.invoke(publish_command, [str(notice_file), *args])
    assert result.exit_code == 1
    assert "not readable JSON" in result.output
    notice_file.write_text(json.dumps(make_notice()), encoding="utf-8")
    result = runner.invoke(publish_command, [str(notice_file), *args])
    assert result.exit_code == 1
    assert "cannot reach the hub at http://127.0.0.1:9" in result.output
    result = runner.invoke(publish_command, [str(notice_file), *args[:3], "bad kid", *args[4:]])
    assert result.exit_code == 1
    assert "cannot sign" in result.output
    result = runner.invoke(
        publish_command, [str(notice_file), "--key", str(notice_file), *args[2:]]
    )
    assert result.exit_code == 1
    assert "not an Ed25519 private key" in result.output
