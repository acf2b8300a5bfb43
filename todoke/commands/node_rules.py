"""``todoke node segment-add | segment-count | template-add | rule-add | rule-list``:
segments (セグメント), templates (テンプレート) and relay rules (配信ルール) from the command line.

Specs, templates and rules are read from JSON or YAML files (``.json``, ``.yaml``/``.yml``).
The CLI acts as the node operator (actor ``cli``); counts follow the small-cell rule ("<10")
and are audited like the API's."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import todoke.commands.node as node_cli
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.relay_rules import repository as rules_repository
from municipal_node.relay_rules import service as rules_service
from municipal_node.relay_rules.models import RelayRule
from municipal_node.relay_rules.schemas import RuleIn, RuleOut, TemplateIn
from municipal_node.segments import service as segments_service
from municipal_node.segments.ages import jst_date
from municipal_node.segments.http_errors import ApiError, describe
from municipal_node.segments.schemas import SegmentIn, shown_count
from municipal_node.segments.spec import SegmentSpec
from municipal_node.tenants import repository as tenants

ACTOR = "cli"
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_tenant = click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
_file = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


def read_document(path: Path) -> dict[str, Any]:
    """A JSON or YAML file holding one object; ``ClickException`` with the reason otherwise."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(
            f"ファイルを読めません / cannot read {path}: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        if path.suffix.lower() == ".json":
            value = json.loads(text)
        else:
            value = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.ClickException(
            f"JSON / YAML として読めません / {path} is not valid JSON or YAML: {first}"
        ) from exc
    if not isinstance(value, dict):
        raise click.ClickException(
            f"ファイルの中身はオブジェクト（項目: 値）にしてください / {path} must hold an object"
        )
    return value


def _invalid(errors: list[dict[str, str]], what: str) -> click.ClickException:
    lines = "\n".join(f"  {error['field']}: {error['message']}" for error in errors)
    return click.ClickException(f"{what}に誤りがあります / invalid {what}:\n{lines}")


def parse(model: type[M], value: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = describe(exc.errors(include_url=False, include_input=False))
        raise _invalid(errors, what) from exc


def _run(work: Callable[[AsyncSession, Sealer], Awaitable[T]]) -> T:
    settings = node_cli.load_settings()

    async def main(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> T:
        async with unit_of_work(sessions) as session:
            return await work(session, sealer)

    try:
        return node_cli.run_db(settings, main)
    except ApiError as exc:
        if exc.errors:
            lines = "\n".join(f"  {error['field']}: {error['message']}" for error in exc.errors)
            raise click.ClickException(f"{exc.message}\n{lines}") from exc
        raise click.ClickException(exc.message) from exc


async def _require_tenant(session: AsyncSession, tenant_code: str) -> None:
    if await tenants.get(session, tenant_code) is None:
        raise ApiError(
            "UNKNOWN_TENANT",
            f"テナント {tenant_code} は登録されていません / unknown tenant {tenant_code}",
            404,
        )


@click.command("segment-add")
@_tenant
@click.option("--name", required=True, help="segment name (unique in the municipality)")
@click.option("--description", default="", help="what the segment is for")
@_file
def segment_add(tenant_code: str, name: str, description: str, file: Path) -> None:
    """Save a segment whose spec (criteria) is in FILE (JSON or YAML)."""
    data = parse(
        SegmentIn,
        {"name": name, "description": description, "spec": read_document(file)},
        "セグメント",
    )

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _require_tenant(session, tenant_code)
        segment = await segments_service.create(
            session, tenant_code=tenant_code, data=data, actor=ACTOR, now=node_cli.cli_now()
        )
        return f"セグメントを保存しました / segment saved: id {segment.id} 「{segment.name}」"

    click.echo(_run(work))


@click.command("segment-count")
@_tenant
@click.option("--id", "segment_id", type=int, default=None, help="a saved segment's id")
@click.option("--name", default=None, help="a saved segment's name")
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="an unsaved spec (JSON or YAML file)",
)
@click.option(
    "--on",
    "on_day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="date for children's ages (default: today in Japan)",
)
def segment_count(
    tenant_code: str,
    segment_id: int | None,
    name: str | None,
    spec_file: Path | None,
    on_day: Any,
) -> None:
    """Count a segment now (counts below 10 print as "<10"); audited."""
    given = [value is not None for value in (segment_id, name, spec_file)]
    if sum(given) != 1:
        raise click.UsageError("--id、--name、--spec のどれか1つを指定します / give one of them")
    unsaved = (
        parse(SegmentSpec, read_document(spec_file), "セグメント条件")
        if spec_file is not None
        else None
    )

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _require_tenant(session, tenant_code)
        now = node_cli.cli_now()
        on: date = on_day.date() if on_day is not None else jst_date(now)
        saved_id: int | None = None
        if unsaved is not None:
            spec = unsaved
        else:
            if segment_id is not None:
                segment = await segments_service.get(
                    session, tenant_code=tenant_code, segment_id=segment_id
                )
            else:
                segment = await segments_service.get_by_name(
                    session, tenant_code=tenant_code, name=str(name)
                )
            spec, saved_id = segments_service.spec_of(segment), segment.id
        result = await segments_service.preview(
            session,
            sealer=sealer,
            tenant_code=tenant_code,
            spec=spec,
            on=on,
            actor=ACTOR,
            now=now,
            with_sample=False,
            segment_id=saved_id,
        )
        return f"該当 / matching ({on.isoformat()}): {shown_count(result.count)}"

    click.echo(_run(work))


@click.command("template-add")
@_tenant
@_file
def template_add(tenant_code: str, file: Path) -> None:
    """Save a message template from FILE (name, text, button_label, button_url, alt_text,
    department, phone, apply_url); refused with reasons if it could carry personal data."""
    data = parse(TemplateIn, read_document(file), "テンプレート")

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _require_tenant(session, tenant_code)
        row = await rules_service.create_template(
            session, tenant_code=tenant_code, data=data, actor=ACTOR, now=node_cli.cli_now()
        )
        return f"テンプレートを保存しました / template saved: id {row.id} 「{row.name}」"

    click.echo(_run(work))


async def _resolve_names(session: AsyncSession, tenant_code: str, raw: dict[str, Any]) -> None:
    """``segment: <name>`` / ``template: <name>`` in a rule file → ``segment_id`` / ``template_id``."""
    segment = raw.pop("segment", None)
    if segment is not None:
        found = await segments_service.get_by_name(
            session, tenant_code=tenant_code, name=str(segment)
        )
        raw["segment_id"] = found.id
    template = raw.pop("template", None)
    if template is not None:
        row = await rules_repository.template_by_name(session, tenant_code, str(template))
        if row is None:
            raise ApiError(
                "TEMPLATE_NOT_FOUND",
                f"テンプレート「{template}」は見つかりません / template {template!r} not found",
                404,
            )
        raw["template_id"] = row.id


@click.command("rule-add")
@_tenant
@_file
def rule_add(tenant_code: str, file: Path) -> None:
    """Save a relay rule from FILE (segment and template by id, or by name as ``segment`` /
    ``template``)."""
    raw = read_document(file)

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _require_tenant(session, tenant_code)
        await _resolve_names(session, tenant_code, raw)
        data = parse(RuleIn, raw, "配信ルール")
        rule = await rules_service.create_rule(
            session, tenant_code=tenant_code, data=data, actor=ACTOR, now=node_cli.cli_now()
        )
        return f"配信ルールを保存しました / relay rule saved: id {rule.id} 「{rule.name}」"

    click.echo(_run(work))


def _describe_rule(rule: RelayRule) -> list[str]:
    def listed(values: list[str] | None) -> str:
        return "*" if values is None else ",".join(values)

    mode = rule.mode
    if rule.two_person_threshold is not None:
        mode += f" (2人: >{rule.two_person_threshold})"
    return [
        str(rule.id),
        str(rule.priority),
        "on" if rule.enabled else "off",
        rule.name,
        listed(rule.publishers),
        listed(rule.categories),
        listed(rule.program_codes),
        listed(rule.areas),
        "通知の対象" if rule.segment_id is None else f"segment {rule.segment_id}",
        "既定" if rule.template_id is None else f"template {rule.template_id}",
        mode,
    ]


@click.command("rule-list")
@_tenant
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def rule_list(tenant_code: str, as_json: bool) -> None:
    """List the relay rules in the order they are tried."""

    async def work(session: AsyncSession, sealer: Sealer) -> list[RelayRule]:
        await _require_tenant(session, tenant_code)
        return await rules_repository.rules_in_order(session, tenant_code)

    rules = _run(work)
    if as_json:
        click.echo(
            json.dumps(
                [RuleOut.of(rule).model_dump(mode="json") for rule in rules],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not rules:
        click.echo("配信ルールはありません（既定: 通知の対象へ自動配信） / no relay rules")
        return
    headers = [
        "id", "優先", "有効", "名前", "発信元", "分類", "制度", "地域", "送信先", "テンプレート",
        "方式",
    ]  # fmt: skip
    click.echo(node_cli._table(headers, [_describe_rule(rule) for rule in rules]))
