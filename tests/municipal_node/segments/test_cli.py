"""``todoke node segment-add | segment-count`` against a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from municipal_node.audit.models import AuditEntry
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from tests.municipal_node.segments.population import befriend, small_town, uid
from todoke.commands.node import node_group


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}


async def run(env: dict[str, str], *args: str) -> Result:
    """``todoke node …`` (it runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(
        CliRunner().invoke, node_group, list(args), env=env, catch_exceptions=False
    )


async def test_a_segment_is_saved_from_yaml_and_counted_with_the_small_cell_rule(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await small_town(node, tmp_path)
    await befriend(node, [uid(200 + i) for i in range(10)])
    spec = tmp_path / "spec.yaml"
    spec.write_text("household:\n  - single_parent\ninterests: [ひとり親支援]\n", "utf-8")
    saved = await run(env, "segment-add", "--tenant", "23235", "--name", "ひとり親", str(spec))
    assert saved.exit_code == 0, saved.output
    assert "segment saved: id 1" in saved.output
    counted = await run(
        env, "segment-count", "--tenant", "23235", "--name", "ひとり親", "--on", "2026-04-01"
    )
    assert counted.exit_code == 0, counted.output
    assert counted.output.strip() == "該当 / matching (2026-04-01): <10"
    everyone = tmp_path / "all.json"
    everyone.write_text("{}", "utf-8")
    counted = await run(env, "segment-count", "--tenant", "23235", "--spec", str(everyone))
    assert counted.output.strip().endswith(": 15")
    async with node.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor == "cli", AuditEntry.action.like("segment.%"))
                .order_by(AuditEntry.id)
            )
        )
    assert [(r.action, r.count) for r in rows] == [("segment.count", 2), ("segment.preview", 15)]


BAD_FILES = [
    ("household: [single]\n", "spec.household.0"),
    ("interests: [ペット]\n", "受信設定の話題 'ペット' はありません"),
    ("- a\n- b\n", "オブジェクト"),
    ("household: [single_parent\n", "JSON / YAML として読めません"),
]


async def test_segment_add_explains_a_bad_spec_file(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    spec = tmp_path / "bad.yaml"
    for content, words in BAD_FILES:
        spec.write_text(content, "utf-8")
        result = await run(env, "segment-add", "--tenant", "23235", "--name", "x", str(spec))
        assert result.exit_code == 1, content
        assert words in result.output, (content, result.output)


async def test_segment_commands_explain_missing_things(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    spec = tmp_path / "s.json"
    spec.write_text("{}", "utf-8")
    assert (
        "cannot read"
        in (await run(env, "segment-add", "--tenant", "23235", "--name", "x", "/nope.json")).output
    )
    unknown = await run(env, "segment-add", "--tenant", "99999", "--name", "x", str(spec))
    assert "unknown tenant 99999" in unknown.output
    missing = await run(env, "segment-count", "--tenant", "23235", "--id", "42")
    assert missing.exit_code == 1
    assert "セグメント 42 は見つかりません" in missing.output
    both = await run(env, "segment-count", "--tenant", "23235", "--id", "1", "--spec", str(spec))
    assert both.exit_code == 2
    await run(env, "segment-add", "--tenant", "23235", "--name", "x", str(spec))
    twice = await run(env, "segment-add", "--tenant", "23235", "--name", "x", str(spec))
    assert "既に使われています" in twice.output
