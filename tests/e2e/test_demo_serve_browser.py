"""`todoke demo --serve` as README promises it: in a browser, a resident's chat opens the
campaign's 申請する button through the node's click counter and the sandbox's LIFF URL to the
node's form, logged in as that resident (by then the demo's clock is past the deadline, so the
form says the window has closed)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser import phone_page

pytestmark = pytest.mark.e2e

CHANNEL = "yatomi"
TENANT = "23235"


def _wait_for_serving(process: subprocess.Popen[str], log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text("utf-8") if log.exists() else ""
        if "Ctrl-C" in text:
            match = re.search(r"(http://127\.0\.0\.1:\d+)/sandbox/chat", text)
            assert match, text[-2000:]
            return match.group(1)
        if process.poll() is not None:
            raise AssertionError(f"the demo stopped:\n{text[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"the demo did not get to serving:\n{log.read_text('utf-8')[-3000:]}")


def _reminded_user(node_db: Path) -> str:
    with sqlite3.connect(node_db) as db:
        rows = db.execute(
            "SELECT b.user_ids FROM outbox_batches b JOIN send_jobs j ON j.id = b.job_id "
            "WHERE j.phase = 'reminder' ORDER BY b.id LIMIT 1"
        ).fetchall()
    assert rows, "nobody got the reminder"
    return str(json.loads(rows[0][0])[0])


def _reminder_clicks(node_db: Path) -> int:
    with sqlite3.connect(node_db) as db:
        row = db.execute("SELECT clicks FROM phase_clicks WHERE phase = 'reminder'").fetchone()
    return int(row[0]) if row else 0


def test_the_served_demo_opens_the_form_from_a_residents_chat(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "todoke", "demo", "--workdir", str(workdir), "--serve"],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
        )  # fmt: skip
    try:
        sandbox = _wait_for_serving(process, log, timeout=300)
        node_db = workdir / "node.db"
        user = _reminded_user(node_db)
        clicks = _reminder_clicks(node_db)
        with phone_page() as page:
            page.goto(f"{sandbox}/sandbox/chat/{CHANNEL}/{user}")
            buttons = page.locator("a.btn", has_text="申請する")
            assert buttons.count() >= 1
            buttons.last.click()  # the reminder's button, the newest message
            page.wait_for_selector("main h1")
            assert re.match(rf"http://127\.0\.0\.1:\d+/liff/{TENANT}/campaigns/\d+", page.url)
            assert "入学準備金" in page.inner_text("main h1")
            assert "で終了しました" in page.inner_text("main")
        assert _reminder_clicks(node_db) == clicks + 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
