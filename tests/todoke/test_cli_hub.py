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
from hub.publishers.client import sign_notice
from tests.hub.helpers import CFA_KEY, PREF_KEY, ROOT_KEY, follow_up, make_notice
from todoke.commands.hub import hub_group
from todoke.commands.publish import publish_command

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


def test_revoke_key_is_idempotent_and_never_back_dated(env: dict[str, str]) -> None:
    assert add_cfa(env).exit_code == 0
    result = hub(env, "revoke-key", "--kid", "gov-cfa/2026a")
    assert result.exit_code == 0, result.output
    assert "key revoked: gov-cfa/2026a at " in result.output
    again = hub(env, "revoke-key", "--kid", "gov-cfa/2026a")
    assert again.exit_code == 0
    assert "already revoked: gov-cfa/2026a" in again.output
    listed = hub(env, "list-publishers")
    assert "失効 revoked" in listed.output
    past = hub(env, "revoke-key", "--kid", "gov-cfa/2026a", "--at", "2020-01-01T00:00:00+09:00")
    assert past.exit_code != 0
    assert "cannot be back-dated" in past.output
    unknown = hub(env, "revoke-key", "--kid", "gov-cfa/none")
    assert unknown.exit_code != 0
    assert "not registered" in unknown.output
    naive = hub(env, "revoke-key", "--kid", "gov-cfa/2026a", "--at", "2030-01-01T00:00:00")
    assert naive.exit_code != 0
    assert "offset" in naive.output


def test_late_rotation_is_warned_at_registration_and_in_the_list(env: dict[str, str]) -> None:
    now = datetime.now(UTC)
    old_start = (now - timedelta(days=350)).isoformat()
    old_end = (now + timedelta(days=10)).isoformat()
    assert add_cfa(env, "--not-before", old_start, "--not-after", old_end).exit_code == 0
    listed = hub(env, "list-publishers")
    assert "no successor key is registered" in listed.output
    result = hub(
        env,
        "add-publisher",
        "--id", "gov-cfa",
        "--kid", "gov-cfa/2027a",
        "--public-key", json.dumps(public_jwk(PREF_KEY)),
        "--area", "00",
        "--category", "benefit",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "key added: gov-cfa/2027a" in result.output
    assert "WARNING: " in result.output
    assert "late rotation: gov-cfa/2027a was registered only 9 days before" in result.output
    assert "late rotation" in hub(env, "list-publishers").output


def test_too_long_validity_is_refused_clearly(env: dict[str, str]) -> None:
    result = add_cfa(env, "--valid-days", "401")
    assert result.exit_code != 0
    assert "at most 400 days" in result.output


def test_keys_rotate_end_to_end_both_keys_publish_in_the_overlap(
    env: dict[str, str], served_hub: str, tmp_path: Path
) -> None:
    from todoke.commands.keys import keys_group

    now = datetime.now(UTC).replace(microsecond=0)
    old_end = now + timedelta(days=20)
    assert (
        add_cfa(
            env,
            "--not-before",
            (now - timedelta(days=1)).isoformat(),
            "--not-after",
            old_end.isoformat(),
        ).exit_code
        == 0
    )
    new_pem = tmp_path / "cfa-2027a.pem"
    rotated = CliRunner().invoke(
        keys_group,
        [
            "rotate",
            "--publisher", "gov-cfa",
            "--old-kid", "gov-cfa/2026a",
            "--new-kid", "gov-cfa/2027a",
            "--key-out", str(new_pem),
            "--hub", served_hub,
            "--json",
        ],
        catch_exceptions=False,
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    plan = json.loads(rotated.stdout)
    assert "less than 30 days" in rotated.stderr  # the old key ends in 20 days
    assert plan["kid"] == "gov-cfa/2027a"
    assert (new_pem.stat().st_mode & 0o777) == 0o600
    command = plan["register_command"]
    assert command[:3] == ["todoke", "hub", "add-publisher"]
    # the old key's scope was copied from the hub's key set
    assert command.count("--area") == 1 and "00" in command
    assert command.count("--category") == 2
    registered = hub(env, *command[2:])
    assert registered.exit_code == 0, registered.output
    assert "late rotation" in registered.output

    old_pem = tmp_path / "cfa-2026a.pem"
    old_pem.write_bytes(private_key_to_pem(CFA_KEY))
    sent = datetime.now(UTC)  # the new key's not_before is when `keys rotate` ran
    for kid, pem in (("gov-cfa/2026a", old_pem), ("gov-cfa/2027a", new_pem)):
        notice = make_notice(
            sent=sent.isoformat(),
            effective=now.isoformat(),
            expires=(now + timedelta(days=30)).isoformat(),
        )
        notice_file = tmp_path / f"{kid.replace('/', '-')}.json"
        notice_file.write_text(json.dumps(notice, ensure_ascii=False), encoding="utf-8")
        result = CliRunner().invoke(
            publish_command,
            [str(notice_file), "--key", str(pem), "--kid", kid, "--hub", served_hub],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        assert "accepted: seq=" in result.output


def test_keys_rotate_refuses_bad_requests_before_writing_a_key(tmp_path: Path) -> None:
    from todoke.commands.keys import keys_group

    out = tmp_path / "new.pem"
    base = ["rotate", "--publisher", "gov-cfa", "--key-out", str(out)]
    cases = [
        (["--old-kid", "gov-cfa/a", "--new-kid", "pref-23/b", "--area", "00", "--category", "benefit"], "gov-cfa/<label>"),
        (["--old-kid", "gov-cfa/a", "--new-kid", "gov-cfa/a", "--area", "00", "--category", "benefit"], "must differ"),
        (["--old-kid", "gov-cfa/a", "--new-kid", "gov-cfa/b"], "--area and --category"),
        (["--old-kid", "gov-cfa/a", "--new-kid", "gov-cfa/b", "--area", "00", "--category", "benefit", "--valid-days", "401"], "401"),
    ]  # fmt: skip
    for extra, fragment in cases:
        result = CliRunner().invoke(keys_group, [*base, *extra])
        assert result.exit_code != 0
        assert fragment in result.output, result.output
    assert not out.exists()
    ok = CliRunner().invoke(
        keys_group,
        [*base, "--old-kid", "gov-cfa/2026a", "--new-kid", "gov-cfa/2027a", "--area", "23",
         "--category", "benefit", "--not-before", "2027-03-01T00:00:00+09:00", "--valid-days", "365"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert out.exists()
    assert "todoke hub add-publisher --id gov-cfa --kid gov-cfa/2027a --public-key" in ok.output
    assert (
        "--not-before 2027-02-28T15:00:00+00:00 --not-after 2028-02-28T15:00:00+00:00" in ok.output
    )
    assert "todoke hub revoke-key --kid gov-cfa/2026a" in ok.output


def test_publish_several_files_in_bulk_in_the_order_given(
    env: dict[str, str], served_hub: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    assert add_cfa(env, "--not-before", (now - timedelta(days=1)).isoformat()).exit_code == 0
    times = {
        "sent": now.isoformat(),
        "effective": now.isoformat(),
        "expires": (now + timedelta(days=30)).isoformat(),
    }
    alert = make_notice(**times)
    update = follow_up(alert, sign_notice(alert, kid="gov-cfa/2026a", private_key=CFA_KEY), **times)
    stale = make_notice(**times, document_id=alert["document_id"])  # a second Alert of it
    files = {}
    for name, notice in (("alert", alert), ("update", update), ("stale", stale)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(notice, ensure_ascii=False), encoding="utf-8")
    key_file = tmp_path / "cfa.pem"
    key_file.write_bytes(private_key_to_pem(CFA_KEY))
    options = ["--key", str(key_file), "--kid", "gov-cfa/2026a", "--hub", served_hub]
    runner = CliRunner()

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    nothing = runner.invoke(publish_command, [str(files["alert"]), str(broken), *options])
    assert nothing.exit_code == 1 and "not readable JSON" in nothing.output  # nothing sent

    result = runner.invoke(publish_command, [str(files["alert"]), str(files["update"]), *options])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{files['alert']}: 受理されました / accepted: seq=1 ")
    assert lines[1].startswith(f"{files['update']}: 受理されました / accepted: seq=2 ")

    again = runner.invoke(publish_command, [str(files["alert"]), str(files["stale"]), *options])
    assert again.exit_code == 1
    assert f"{files['alert']}: 受理済み (重複送信) / already accepted: seq=1" in again.output
    assert f"{files['stale']}: 拒否されました / rejected: STALE_REVISION" in again.output
    assert "1 of 2 refused" in again.output

    out = tmp_path / "envelope.json"
    two_out = [str(files["alert"]), str(files["update"]), *options, "--envelope-out", str(out)]
    refused = runner.invoke(publish_command, two_out)
    assert refused.exit_code == 2 and "--envelope-out takes one notice file" in refused.output
