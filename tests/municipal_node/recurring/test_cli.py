"""``todoke node recurring-* | trigger-*`` against a real database (system clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from municipal_node.scheduler.models import ScheduledTask
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from todoke.commands.node import node_group
from todoke.demo.campaign import write_clock

RULE = """\
name: ひとり親 月刊お知らせ
rrule: FREQ=MONTHLY;BYMONTHDAY=1
send_time: "10:00"
adjust: next
spec: {interests: [single_parent]}
headline: 今月のお知らせ
body: 今月の支援制度をまとめました。
"""


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}


async def run(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, node_group, list(args), env=env, catch_exceptions=False
    )


async def test_the_example_and_a_file_rule_are_saved_listed_and_switched_off(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    example = await run(env, "recurring-example", "--tenant", "23235")
    assert example.exit_code == 0, example.output
    assert "recurring notice saved: id 1 「児童扶養手当 支給日のお知らせ」" in example.output
    path = tmp_path / "rule.yaml"
    path.write_text(RULE, "utf-8")
    added = await run(env, "recurring-add", "--tenant", "23235", str(path))
    assert added.exit_code == 0, added.output
    listed = await run(env, "recurring-list", "--tenant", "23235")
    assert "児童扶養手当 支給日のお知らせ" in listed.output and "2日前 09:00" in listed.output
    assert "ひとり親 月刊お知らせ" in listed.output and "10:00 送信" in listed.output
    off = await run(env, "recurring-set", "--tenant", "23235", "--id", "1", "--disable")
    assert off.exit_code == 0 and "停止しました" in off.output
    async with node.sessions() as session:
        states = list(
            await session.scalars(
                select(ScheduledTask.state).where(ScheduledTask.key.startswith("recurring:1:"))
            )
        )
    assert states == ["cancelled"]


async def test_a_bad_rule_is_refused_with_the_reason_and_nothing_saved(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    path = tmp_path / "rule.yaml"
    path.write_text(RULE.replace("FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=SECONDLY"), "utf-8")
    refused = await run(env, "recurring-add", "--tenant", "23235", str(path))
    assert refused.exit_code == 1
    assert "繰り返しの指定に誤りがあります" in refused.output and "rrule:" in refused.output
    listed = await run(env, "recurring-list", "--tenant", "23235")
    assert "定期通知はありません" in listed.output
    unknown = await run(env, "recurring-list", "--tenant", "99999")
    assert unknown.exit_code == 1 and "unknown tenant 99999" in unknown.output


async def test_the_preview_shows_holiday_moves_without_a_database(env: dict[str, str]) -> None:
    preview = await run(
        env, "recurring-preview", "--rrule", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=11",
        "--starts-on", "2038-01-01", "--lead-days", "2", "--count", "1",
    )  # fmt: skip
    assert preview.exit_code == 0, preview.output
    assert preview.output.strip() == (
        "2038年1月6日（水）9:00 送信 / 当日 2038年1月8日（金）（休日のため前後に移動）"
    )


async def test_triggers_are_switched_on_and_listed(node: Node, env: dict[str, str]) -> None:
    await node.add_tenant()
    on = await run(env, "trigger-set", "--tenant", "23235", "--trigger", "checkup_3y")
    assert on.exit_code == 0, on.output
    assert "checkup_3y（乳幼児健診（3歳児））: 有効" in on.output
    listed = await run(env, "trigger-list", "--tenant", "23235")
    assert "checkup_3y" in listed.output and "3歳児健診のご案内" in listed.output
    bad = await run(env, "trigger-set", "--tenant", "23235", "--trigger", "checkup_9y")
    assert bad.exit_code == 1 and "unknown trigger" in bad.output


async def test_with_a_simulated_clock_the_cli_schedules_on_it_as_node_serve_would(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    """The demo runs every service on one simulated clock (TODOKE_NODE_CLOCK_FILE); a CLI
    command on the real clock would schedule the daily trigger run for today's real date."""
    await node.add_tenant()
    clock = tmp_path / "clock.json"
    write_clock(clock, datetime(2027, 1, 20, 3, 0, tzinfo=UTC))  # 12:00 JST, after 09:00
    simulated = {**env, "TODOKE_NODE_CLOCK_FILE": str(clock)}
    switched = await run(simulated, "trigger-set", "--tenant", "23235", "--trigger", "checkup_4m")
    assert switched.exit_code == 0, switched.output
    async with node.sessions() as session:
        due = list(
            await session.execute(
                select(ScheduledTask.key, ScheduledTask.due_at).where(
                    ScheduledTask.kind == "triggers_daily"
                )
            )
        )
    assert [(key, at.astimezone(UTC)) for key, at in due] == [
        ("triggers_daily:2027-01-21", datetime(2027, 1, 21, 0, 0, tzinfo=UTC))  # 09:00 JST
    ]
