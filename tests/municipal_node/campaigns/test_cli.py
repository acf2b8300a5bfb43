"""``todoke node campaign-add | campaigns | campaign-show | campaign-phase | campaign-cancel |
campaign-baseline`` against a real database (the CLI runs on the system clock, so the notice's
window is in the real future)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.municipal_node.campaigns.conftest import audit_actions
from tests.municipal_node.conftest import ENCRYPTION_KEY
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.helpers import TENANT, make_notice
from todoke.commands.node import node_group


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}


async def run(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, node_group, list(args), env=env, catch_exceptions=False
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_the_cli_mirrors_the_api(rig: Rig, env: dict[str, str], tmp_path: Path) -> None:
    real_now = datetime.now(UTC).replace(microsecond=0)
    notice = make_notice(
        action={"opens": _iso(real_now + timedelta(days=20)),
                "closes": _iso(real_now + timedelta(days=50))},
        expires=_iso(real_now + timedelta(days=60)),
    )  # fmt: skip
    await rig.relay(notice)
    tenant = ("--tenant", TENANT)
    empty = await run(env, "campaigns", *tenant)
    assert empty.exit_code == 0 and "キャンペーンはありません" in empty.output
    bad = await run(env, "campaign-add", *tenant, "--publisher", "gov-cfa", "--notice-id",
                    notice["notice_id"], "--quiet-start", "9時")  # fmt: skip
    assert bad.exit_code != 0 and "HH:MM" in bad.output
    added = await run(env, "campaign-add", *tenant, "--publisher", "gov-cfa", "--notice-id",
                      notice["notice_id"], "--skip-holidays", "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    campaign = json.loads(added.output)
    cid = str(campaign["id"])
    assert [p["state"] for p in campaign["phases"]] == ["scheduled"] * 3
    again = await run(env, "campaign-add", *tenant, "--publisher", "gov-cfa", "--notice-id",
                      notice["notice_id"])  # fmt: skip
    assert again.exit_code != 0 and "すでにあります" in again.output

    tasks = await run(env, "scheduled-tasks", *tenant, "--json")
    assert tasks.exit_code == 0, tasks.output
    assert sorted(t["key"] for t in json.loads(tasks.output)) == sorted(
        f"campaign:{cid}:{name}" for name in ("preview", "open", "reminder", "close")
    )
    assert {t["state"] for t in json.loads(tasks.output)} == {"pending"}
    table = await run(env, "campaigns", *tenant)
    assert "予告（preview）" in table.output and "JST" in table.output

    when = (real_now + timedelta(days=25)).astimezone(UTC).date().isoformat()
    moved = await run(env, "campaign-phase", *tenant, "--campaign", cid, "--phase", "reminder",
                      "--send-at", f"{when} 23:00", "--json")  # fmt: skip
    assert moved.exit_code == 0, moved.output
    reminder = json.loads(moved.output)["phases"][2]
    assert reminder["send_at_jst"].split(" ")[1] in ("08:00", "09:00")  # out of quiet hours
    wording = tmp_path / "text.txt"
    wording.write_text("{見出し}\n連絡先 taro@example.jp", "utf-8")
    refused = await run(env, "campaign-phase", *tenant, "--campaign", cid, "--phase", "open",
                        "--text-file", str(wording))  # fmt: skip
    assert refused.exit_code != 0 and "メールアドレス" in refused.output
    off = await run(env, "campaign-phase", *tenant, "--campaign", cid, "--phase", "preview",
                    "--disable")  # fmt: skip
    assert off.exit_code == 0 and "停止" in off.output

    rate = await run(env, "campaign-baseline", *tenant, "--campaign", cid, "--rate", "0.42")
    assert rate.exit_code == 0 and "42.0%" in rate.output
    neither = await run(env, "campaign-baseline", *tenant, "--campaign", cid)
    assert neither.exit_code != 0
    cancelled = await run(env, "campaign-cancel", *tenant, "--campaign", cid, "--reason", "誤り")
    assert cancelled.exit_code == 0 and "中止しました" in cancelled.output
    left = await run(env, "scheduled-tasks", *tenant, "--state", "pending")
    assert "予約された処理はありません" in left.output
    shown = await run(env, "campaign-show", *tenant, "--campaign", cid)
    assert "状態: cancelled" in shown.output and "理由: 誤り" in shown.output
    unknown = await run(env, "campaign-show", *tenant, "--campaign", "987654")
    assert unknown.exit_code != 0 and "見つかりません" in unknown.output
    actions = await audit_actions(rig)
    for action in ("campaign.create", "campaign.phase_change", "campaign.baseline",
                   "campaign.cancel"):  # fmt: skip
        assert action in actions
