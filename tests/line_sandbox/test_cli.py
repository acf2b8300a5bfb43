"""``todoke sandbox serve`` starts a real server, writes the ready file, creates the channel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from line_sandbox.residents import bench_user_id, simulated_user_id
from todoke.commands.sandbox import sandbox_group


def serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    """Start ``todoke sandbox serve`` with ``extra`` options; wait for its ready file."""
    ready = tmp_path / "ready.json"
    command = [
        str(Path(sys.executable).parent / "todoke"),
        "sandbox",
        "serve",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--channel-name",
        "cli-town",
        "--channel-secret",
        "s3",
        "--channel-token",
        "cli-token",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_SANDBOX_")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"sandbox did not become ready: {process.communicate()}")
        time.sleep(0.05)
    info: dict[str, object] = json.loads(ready.read_text())
    return process, info


def test_serve_with_a_channel_and_friends(tmp_path: Path) -> None:
    process, info = serve(tmp_path, "--friends", "2")
    try:
        assert info["pid"] == process.pid
        followers = httpx.get(
            f"{info['url']}/v2/bot/followers/ids", headers={"Authorization": "Bearer cli-token"}
        )
        assert followers.json() == {"userIds": [simulated_user_id("cli-town", i) for i in (0, 1)]}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_serve_bench_channel_has_index_ids(tmp_path: Path) -> None:
    process, info = serve(tmp_path, "--friends", "1000000", "--bench")
    try:
        followers = httpx.get(
            f"{info['url']}/v2/bot/followers/ids?limit=2",
            headers={"Authorization": "Bearer cli-token"},
        )
        assert followers.json()["userIds"] == [bench_user_id("cli-town", i) for i in (0, 1)]
        view = httpx.get(f"{info['url']}/sandbox/channels/cli-town").json()
        assert (view["bench"], view["users"]) == (True, 1_000_000)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_serve_refuses_a_channel_without_token() -> None:
    result = CliRunner().invoke(
        sandbox_group, ["serve", "--channel-name", "x", "--channel-secret", "s"], env={}
    )
    assert result.exit_code != 0
    assert "invalid settings" in result.output
