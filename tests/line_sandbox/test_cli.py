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

from line_sandbox.residents import simulated_user_id
from todoke.commands.sandbox import sandbox_group


def test_serve_with_a_channel_and_friends(tmp_path: Path) -> None:
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
        "--friends",
        "2",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TODOKE_SANDBOX_")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "sandbox did not become ready"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["pid"] == process.pid
        followers = httpx.get(
            f"{info['url']}/v2/bot/followers/ids", headers={"Authorization": "Bearer cli-token"}
        )
        assert followers.json() == {"userIds": [simulated_user_id("cli-town", i) for i in (0, 1)]}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_serve_refuses_a_channel_without_token() -> None:
    result = CliRunner().invoke(
        sandbox_group, ["serve", "--channel-name", "x", "--channel-secret", "s"], env={}
    )
    assert result.exit_code != 0
    assert "invalid settings" in result.output
