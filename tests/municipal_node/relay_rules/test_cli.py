"""``todoke node template-add | rule-add | rule-list`` against a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from todoke.commands.node import node_group

TEMPLATE = """\
name: 手当の案内
text: |
  【{自治体名}】{見出し}
  {本文}
  お問い合わせ: {担当課} {電話番号}
department: 子育て支援課
phone: 0567-65-1111
apply_url: https://www.city.yatomi.lg.jp/teate
button_url: "{受付URL}"
"""


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}


async def run(env: dict[str, str], *args: str) -> Result:
    """``todoke node …`` (it runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(
        CliRunner().invoke, node_group, list(args), env=env, catch_exceptions=False
    )


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return str(path)


async def test_templates_and_rules_are_added_by_name_and_listed(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    empty = await run(env, "rule-list", "--tenant", "23235")
    assert "配信ルールはありません" in empty.output
    added = await run(env, "template-add", "--tenant", "23235", write(tmp_path, "t.yaml", TEMPLATE))
    assert added.exit_code == 0, added.output
    assert "template saved: id 1" in added.output
    segment = await run(
        env, "segment-add", "--tenant", "23235", "--name", "ひとり親",
        write(tmp_path, "s.json", '{"household": ["single_parent"]}'),
    )  # fmt: skip
    assert segment.exit_code == 0, segment.output
    rule = {
        "name": "国の手当",
        "priority": 10,
        "publishers": ["gov-cfa"],
        "categories": ["benefit"],
        "segment": "ひとり親",
        "template": "手当の案内",
        "mode": "approval",
        "two_person_threshold": 500,
    }
    saved = await run(
        env, "rule-add", "--tenant", "23235", write(tmp_path, "r.json", json.dumps(rule))
    )
    assert saved.exit_code == 0, saved.output
    listed = await run(env, "rule-list", "--tenant", "23235")
    assert listed.exit_code == 0, listed.output
    line = listed.output.splitlines()[2]
    for part in (
        "国の手当",
        "gov-cfa",
        "benefit",
        "segment 1",
        "template 1",
        "approval (2人: >500)",
    ):
        assert part in line
    as_json = json.loads((await run(env, "rule-list", "--tenant", "23235", "--json")).output)
    assert as_json[0]["segment_id"] == 1 and as_json[0]["template_id"] == 1


async def test_a_template_with_personal_data_is_refused_with_every_reason(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    bad = write(tmp_path, "bad.yaml", "name: x\ntext: '{氏名}様 {住所} 宛 {見出し}'\n")
    result = await run(env, "template-add", "--tenant", "23235", bad)
    assert result.exit_code == 1
    assert "テンプレートを保存できません" in result.output
    assert "{氏名}" in result.output and "{住所}" in result.output
    assert "配信ルールはありません" in (await run(env, "rule-list", "--tenant", "23235")).output


BAD_RULES: list[tuple[dict[str, object], str]] = [
    ({"name": "x", "segment": "ない"}, "セグメント「ない」は見つかりません"),
    ({"name": "x", "template": "ない"}, "テンプレート「ない」は見つかりません"),
    ({"name": "x", "mode": "later"}, "mode: 使える値ではありません"),
    ({"name": "x", "areas": "23"}, "areas: リスト"),
]


async def test_rule_add_explains_a_bad_rule(
    node: Node, tmp_path: Path, env: dict[str, str]
) -> None:
    await node.add_tenant()
    for rule, words in BAD_RULES:
        path = write(tmp_path, "r.json", json.dumps(rule))
        result = await run(env, "rule-add", "--tenant", "23235", path)
        assert result.exit_code == 1, rule
        assert words in result.output, (rule, result.output)
    assert "配信ルールはありません" in (await run(env, "rule-list", "--tenant", "23235")).output
