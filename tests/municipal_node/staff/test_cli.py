"""``todoke node add-staff | list-staff | set-staff-role | disable-staff …`` through click."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner, Result

from contracts.keys import private_key_from_seed, public_jwk
from todoke.commands.node import node_group

ROOT = {"kid": "hub-aichi/root1", "jwk": public_jwk(private_key_from_seed(bytes(32)))}
TENANT = "23235"
PASSWORD = "correct horse battery"


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    values = {
        "TODOKE_NODE_DATABASE_URL": database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
        "TODOKE_NODE_STAFF_PASSWORD_TIME_COST": "1",
        "TODOKE_NODE_STAFF_PASSWORD_MEMORY_KIB": "1024",
        "TODOKE_NODE_STAFF_PASSWORD_PARALLELISM": "1",
    }
    for code in (TENANT, "23100"):
        result = run(
            values,
            "add-tenant", "--code", code, "--name", "弥富市", "--hub-url", "http://127.0.0.1:8080",
            "--hub-root-key", json.dumps(ROOT), "--line-channel-secret", "s",
            "--line-channel-token", "t",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return values


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(node_group, list(args), env=env, input=input, catch_exceptions=False)


def add(env: dict[str, str], username: str, role: str = "editor", *extra: str) -> Result:
    return run(
        env,
        "add-staff", "--tenant", TENANT, "--username", username, "--role", role,
        "--password-stdin", *extra,
        input=PASSWORD + "\n",
    )  # fmt: skip


def listing(env: dict[str, str], tenant: str = TENANT) -> str:
    result = run(env, "list-staff", "--tenant", tenant)
    assert result.exit_code == 0, result.output
    return result.output


def test_add_staff_from_stdin_then_list(env: dict[str, str]) -> None:
    result = add(env, "hanako", "editor", "--display-name", "弥富 花子")
    assert result.exit_code == 0, result.output
    assert "staff added: hanako (editor) @ 23235" in result.output
    assert PASSWORD not in result.output
    out = listing(env)
    assert "hanako" in out and "弥富 花子" in out and "editor 編集者" in out and "有効" in out
    assert "職員はいません" in listing(env, "23100")


def test_add_staff_prompts_twice_without_echo(env: dict[str, str]) -> None:
    result = run(
        env, "add-staff", "--tenant", TENANT, "--username", "sato", "--role", "viewer",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "sato" in listing(env)
    mismatch = run(
        env, "add-staff", "--tenant", TENANT, "--username", "kato", "--role", "viewer",
        input=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert mismatch.exit_code == 0, mismatch.output
    assert "kato" in listing(env)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--tenant", "13101", "--username", "sato", "--role", "viewer"], PASSWORD, "unknown tenant"),
        (["--tenant", TENANT, "--username", "sato", "--role", "owner"], PASSWORD, "Invalid value for '--role'"),
        (["--tenant", TENANT, "--username", "sato", "--role", "viewer"], "short", "at least 12"),
        (["--tenant", TENANT, "--username", "sato", "--role", "viewer"], "SATO", "at least 12"),
        (["--tenant", TENANT, "--username", "sato.sato.sato", "--role", "viewer"], "Sato.Sato.Sato", "differ from the username"),
        (["--tenant", TENANT, "--username", "S", "--role", "viewer"], PASSWORD, "3–32 of a-z"),
        (["--tenant", TENANT, "--username", "hanako", "--role", "viewer"], PASSWORD, "username already taken"),
        (["--tenant", TENANT, "--username", "sato", "--role", "viewer", "--display-name", " "], PASSWORD, "display name"),
    ],
)  # fmt: skip
def test_add_staff_refuses_bad_input_and_changes_nothing(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    assert add(env, "hanako").exit_code == 0
    before = listing(env)
    result = run(env, "add-staff", *args, "--password-stdin", input=stdin + "\n")
    assert result.exit_code != 0
    assert message in result.output
    if stdin != PASSWORD:
        assert stdin not in result.output  # a refused password is never echoed
    assert listing(env) == before


def test_set_staff_role_changes_or_adds_a_role_and_explains_errors(env: dict[str, str]) -> None:
    add(env, "hanako", "viewer")
    changed = run(
        env, "set-staff-role", "--tenant", TENANT, "--username", "hanako", "--role", "admin"
    )
    assert changed.exit_code == 0, changed.output
    assert "admin 管理者" in listing(env)
    added = run(
        env, "set-staff-role", "--tenant", "23100", "--username", "hanako", "--role", "viewer"
    )
    assert added.exit_code == 0, added.output
    assert "viewer 閲覧者" in listing(env, "23100")
    unknown = run(
        env, "set-staff-role", "--tenant", TENANT, "--username", "nobody", "--role", "admin"
    )
    assert unknown.exit_code != 0 and "no such staff" in unknown.output
    no_tenant = run(
        env, "set-staff-role", "--tenant", "13101", "--username", "hanako", "--role", "admin"
    )
    assert no_tenant.exit_code != 0 and "unknown tenant" in no_tenant.output


def test_disable_and_enable_staff(env: dict[str, str]) -> None:
    add(env, "hanako")
    disabled = run(env, "disable-staff", "--username", "hanako")
    assert disabled.exit_code == 0 and "disabled: hanako" in disabled.output
    assert "無効 disabled" in listing(env)
    again = run(env, "disable-staff", "--username", "hanako")
    assert again.exit_code == 0 and "already disabled" in again.output
    role = run(env, "set-staff-role", "--tenant", TENANT, "--username", "hanako", "--role", "admin")
    assert role.exit_code == 0 and "enable-staff" in role.output
    enabled = run(env, "enable-staff", "--username", "hanako")
    assert enabled.exit_code == 0 and "enabled: hanako" in enabled.output
    assert "有効 active" in listing(env)
    unknown = run(env, "disable-staff", "--username", "nobody")
    assert unknown.exit_code != 0 and "no such staff" in unknown.output


def test_reset_password_and_remove_staff(env: dict[str, str]) -> None:
    add(env, "hanako")
    weak = run(
        env, "reset-staff-password", "--tenant", TENANT, "--username", "hanako",
        "--password-stdin", input="tiny\n",
    )  # fmt: skip
    assert weak.exit_code != 0 and "at least 12" in weak.output
    reset = run(
        env, "reset-staff-password", "--tenant", TENANT, "--username", "hanako",
        "--password-stdin", input="another long passphrase\n",
    )  # fmt: skip
    assert reset.exit_code == 0, reset.output
    wrong_tenant = run(env, "remove-staff", "--tenant", "23100", "--username", "hanako")
    assert wrong_tenant.exit_code != 0 and "no such staff on this tenant" in wrong_tenant.output
    removed = run(env, "remove-staff", "--tenant", TENANT, "--username", "hanako")
    assert removed.exit_code == 0, removed.output
    assert "職員はいません" in listing(env)
