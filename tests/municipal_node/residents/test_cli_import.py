"""``todoke node import-residents`` through click against a real database: progress on stderr,
summary on stdout, every bad line reported, ``--skip-bad`` and its safety share."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from contracts.keys import private_key_from_seed, public_jwk
from municipal_node.db.engine import sync_url
from tests.municipal_node.helpers import write_csv
from todoke.commands.node import node_group
from todoke.commands.progress import ProgressBar

ROOT = {"kid": "hub-aichi/root1", "jwk": public_jwk(private_key_from_seed(bytes(32)))}


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    values = {
        "TODOKE_NODE_DATABASE_URL": database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(bytes(range(32))).decode(),
    }
    result = run(
        values,
        "add-tenant", "--code", "23235", "--name", "弥富市", "--hub-url", "http://127.0.0.1:9",
        "--hub-root-key", json.dumps(ROOT), "--line-channel-secret", "s",
        "--line-channel-token", "t",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return values


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(node_group, list(args), env=env)


def resident_ids(database_url: str) -> set[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT resident_id FROM residents")).scalars())
    finally:
        engine.dispose()


def rows(count: int) -> list[tuple[str, ...]]:
    return [
        (f"R{i:03d}", "child_rearing", "2020-05-05", "東町", "jido-teate", "") for i in range(count)
    ]


def test_an_import_shows_progress_on_stderr_and_the_summary_on_stdout(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "r.csv", rows(30))
    result = run(env, "import-residents", "--tenant", "23235", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "imported: 30 件 (新規 inserted 30, 更新 updated 0, 削除 removed 0, 除外 skipped 0)"
    )
    lines = result.stderr.splitlines()
    validating = [line for line in lines if line.startswith("検証 / validating")]
    importing = [line for line in lines if line.startswith("取り込み / importing")]
    assert validating and "30/30 行 rows" in validating[-1] and "rows/s" in validating[-1]
    assert importing and "30/30 行 rows" in importing[-1]
    again = run(env, "import-residents", "--tenant", "23235", "--no-progress", str(path))
    assert "新規 inserted 0, 更新 updated 0, 削除 removed 0" in again.stdout
    assert again.stderr == ""


def test_bad_lines_are_all_reported_and_nothing_is_imported(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    bad = [*rows(5), ("R100", "rich", "", "", "", ""), ("R101", "", "1999-13-01", "", "", "")]
    result = run(
        env, "import-residents", "--tenant", "23235", str(write_csv(tmp_path / "b.csv", bad))
    )
    assert result.exit_code == 1
    assert "2 bad line(s); nothing imported" in result.stderr
    assert "7行目 [household]" in result.stderr and "line 7" in result.stderr
    assert "8行目 [child_birth_dates]" in result.stderr
    assert resident_ids(database_url) == set()


def test_skip_bad_imports_the_rest_and_lists_what_it_left_out(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    data = [*rows(19), ("R100", "rich", "", "", "", "")]
    path = write_csv(tmp_path / "r.csv", data)
    result = run(env, "import-residents", "--tenant", "23235", "--skip-bad", str(path))
    assert result.exit_code == 0, result.output
    assert "1 bad line(s) left out" in result.stderr
    assert "21行目 [household]" in result.stderr
    assert "除外 skipped 1" in result.stdout
    assert resident_ids(database_url) == {f"R{i:03d}" for i in range(19)}


def test_skip_bad_is_refused_above_the_share_given(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    run(env, "import-residents", "--tenant", "23235", str(write_csv(tmp_path / "a.csv", rows(3))))
    data = [*rows(19), ("R100", "rich", "", "", "", "")]  # 5 % bad
    path = write_csv(tmp_path / "r.csv", data)
    args = ("import-residents", "--tenant", "23235", "--skip-bad", "--max-bad-share", "0.04")
    result = run(env, *args, str(path))
    assert result.exit_code == 1
    assert "more than the allowed 4.0%; nothing imported" in result.stderr
    assert resident_ids(database_url) == {"R000", "R001", "R002"}
    env = {**env, "TODOKE_NODE_IMPORT_MAX_BAD_SHARE": "0.04"}
    result = run(env, "import-residents", "--tenant", "23235", "--skip-bad", str(path))
    assert result.exit_code == 1
    assert "more than the allowed 4.0%" in result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_in_place_on_a_terminal() -> None:
    now = [0.0]
    stream = _Terminal()
    bar = ProgressBar({"validate": "検証"}, stream=stream, clock=lambda: now[0], width=10)
    for done in (0, 500, 1000):
        now[0] += 0.5
        bar("validate", done, 1000)
    bar.close()
    frames = stream.getvalue().split("\r\x1b[K")[1:]
    assert frames[1] == "検証 [#####.....] 500/1,000 行 rows  1,000 行/秒 rows/s"
    assert frames[-1] == "検証 [##########] 1,000/1,000 行 rows  1,000 行/秒 rows/s  1.0 s\n"
