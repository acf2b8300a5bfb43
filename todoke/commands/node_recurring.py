"""``todoke node recurring-add | recurring-example | recurring-list | recurring-set |
recurring-preview | trigger-list | trigger-set``: recurring notices (定期通知) and date
triggers (日付トリガー) from the command line, as the node operator (actor ``cli``).

A rule file is JSON or YAML with the fields of the API's ``RecurringRuleIn``, e.g.::

    name: 児童扶養手当 支給日のお知らせ
    rrule: FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11
    lead_days: 2            # notify two days before
    adjust: previous        # a holiday → the previous business day
    spec: {household: [single_parent], interests: [single_parent]}
    headline: 児童扶養手当の支給日が近づいています
    body: 次の支給日は{日付}です。
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import todoke.commands.node as node_cli
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.recurring import repository as recurring_repository
from municipal_node.recurring import service as recurring
from municipal_node.recurring.schemas import OccurrenceOut, PreviewIn, RecurringRuleIn
from municipal_node.segments.http_errors import ApiError
from municipal_node.tenants import repository as tenants
from municipal_node.triggers import service as triggers
from municipal_node.triggers.schemas import TriggerSettingIn
from todoke.commands.node_rules import parse, read_document

ACTOR = "cli"
T = TypeVar("T")

_tenant = click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")

#: the examples of WELFARE.md (``recurring-example``)
EXAMPLES: dict[str, dict[str, Any]] = {
    "jidou-fuyou": {
        "name": "児童扶養手当 支給日のお知らせ",
        "rrule": "FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11",
        "lead_days": 2,
        "send_time": "09:00",
        "adjust": "previous",
        "spec": {"household": ["single_parent"], "interests": ["single_parent"]},
        "headline": "児童扶養手当の支給日が近づいています",
        "body": "次の支給日は{日付}です。振込先の口座をご確認ください。",
    },
    "hitorioya-newsletter": {
        "name": "ひとり親家庭 月刊お知らせ",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
        "lead_days": 0,
        "send_time": "10:00",
        "adjust": "next",
        "spec": {"interests": ["single_parent"]},
        "headline": "ひとり親家庭のみなさまへ 今月のお知らせ",
        "body": "今月の支援制度・相談会の情報をまとめました。詳しくは市のページをご覧ください。",
    },
}


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = node_cli.load_settings()

    async def main(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> T:
        async with unit_of_work(sessions) as session:
            return await work(session)

    try:
        return node_cli.run_db(settings, main)
    except ApiError as exc:
        lines = "".join(f"\n  {e['field']}: {e['message']}" for e in exc.errors or [])
        raise click.ClickException(f"{exc.message}{lines}") from exc


async def _require_tenant(session: AsyncSession, tenant_code: str) -> None:
    if await tenants.get(session, tenant_code) is None:
        raise ApiError(
            "UNKNOWN_TENANT",
            f"テナント {tenant_code} は登録されていません / unknown tenant {tenant_code}",
            404,
        )


def _when(occurrence: OccurrenceOut | None) -> str:
    if occurrence is None:
        return "-"
    moved = "（休日のため前後に移動）" if occurrence.moved else ""
    return f"{occurrence.send_at_ja} 送信 / 当日 {occurrence.event_day_ja}{moved}"


async def _add(session: AsyncSession, tenant_code: str, data: RecurringRuleIn) -> str:
    await _require_tenant(session, tenant_code)
    now = node_cli.cli_now()
    rule = await recurring.create(session, tenant_code=tenant_code, data=data, actor=ACTOR, now=now)
    scheduled = await recurring.scheduled_occurrence(session, rule)
    shown = None if scheduled is None else OccurrenceOut.of(scheduled)
    return (
        f"定期通知を保存しました / recurring notice saved: id {rule.id} 「{rule.name}」\n"
        f"  次回 / next: {_when(shown)}"
    )


@click.command("recurring-add")
@_tenant
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def recurring_add(tenant_code: str, file: Path) -> None:
    """Save a recurring notice described in FILE (JSON or YAML)."""
    data = parse(RecurringRuleIn, read_document(file), "定期通知")
    click.echo(_run(lambda session: _add(session, tenant_code, data)))


@click.command("recurring-example")
@_tenant
@click.option(
    "--kind",
    type=click.Choice(sorted(EXAMPLES)),
    default="jidou-fuyou",
    show_default=True,
    help="jidou-fuyou: 児童扶養手当 paid on the 11th of odd months, notified 2 days before; "
    "hitorioya-newsletter: a monthly ひとり親 newsletter on the 1st",
)
@click.option("--disabled", is_flag=True, help="save it switched off")
def recurring_example(tenant_code: str, kind: str, disabled: bool) -> None:
    """Save one of the example recurring notices (例: 児童扶養手当の支給日)."""
    data = parse(RecurringRuleIn, {**EXAMPLES[kind], "enabled": not disabled}, "定期通知")
    click.echo(_run(lambda session: _add(session, tenant_code, data)))


@click.command("recurring-list")
@_tenant
def recurring_list(tenant_code: str) -> None:
    """List the recurring notices and when each is sent next (JST)."""

    async def work(session: AsyncSession) -> list[list[str]]:
        await _require_tenant(session, tenant_code)
        rows: list[list[str]] = []
        for rule in await recurring_repository.list_rules(session, tenant_code):
            scheduled = await recurring.scheduled_occurrence(session, rule)
            shown = None if scheduled is None else OccurrenceOut.of(scheduled)
            rows.append(
                [
                    str(rule.id),
                    rule.name,
                    "有効" if rule.enabled else "停止",
                    rule.rrule,
                    f"{rule.lead_days}日前 {rule.send_time}",
                    _when(shown),
                ]
            )
        return rows

    rows = _run(work)
    if not rows:
        click.echo("定期通知はありません / no recurring notices")
        return
    headers = ["id", "名前", "状態", "繰り返し", "通知", "次回"]
    click.echo(node_cli._table(headers, rows))


@click.command("recurring-set")
@_tenant
@click.option("--id", "rule_id", type=int, required=True)
@click.option("--enable/--disable", "enabled", required=True)
def recurring_set(tenant_code: str, rule_id: int, enabled: bool) -> None:
    """Switch a recurring notice on or off (its next task is scheduled or cancelled)."""

    async def work(session: AsyncSession) -> str:
        await _require_tenant(session, tenant_code)
        rule = await recurring.set_enabled(
            session,
            tenant_code=tenant_code,
            rule_id=rule_id,
            enabled=enabled,
            actor=ACTOR,
            now=node_cli.cli_now(),
        )
        state = "有効にしました / enabled" if rule.enabled else "停止しました / disabled"
        return f"定期通知 {rule.id} 「{rule.name}」を{state}"

    click.echo(_run(work))


@click.command("recurring-preview")
@click.option("--rrule", required=True, help="e.g. FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11")
@click.option("--starts-on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--lead-days", type=int, default=0, show_default=True)
@click.option("--send-time", default="09:00", show_default=True, help="HH:MM JST")
@click.option("--adjust", type=click.Choice(["previous", "next", "none"]), default="previous")
@click.option("--count", type=int, default=6, show_default=True)
def recurring_preview(
    rrule: str,
    starts_on: Any,
    lead_days: int,
    send_time: str,
    adjust: str,
    count: int,
) -> None:
    """Show when a rule would send (holidays applied), without saving anything."""
    data = parse(
        PreviewIn,
        {
            "rrule": rrule,
            "starts_on": None if starts_on is None else date.isoformat(starts_on.date()),
            "lead_days": lead_days,
            "send_time": send_time,
            "adjust": adjust,
            "count": count,
        },
        "繰り返し",
    )
    try:
        found = recurring.preview(data, now=node_cli.cli_now())
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    for occurrence in found:
        click.echo(_when(OccurrenceOut.of(occurrence)))


@click.command("trigger-list")
@_tenant
def trigger_list(tenant_code: str) -> None:
    """List the date triggers (乳幼児健診, 入学準備金), on or off, and children reached."""

    async def work(session: AsyncSession) -> list[list[str]]:
        await _require_tenant(session, tenant_code)
        return [
            [
                t.trigger,
                t.label,
                "有効" if t.enabled else "停止",
                t.headline,
                str(t.fired),
                "-" if t.next_run_at is None else t.next_run_at.strftime("%Y-%m-%d %H:%M JST"),
            ]
            for t in await triggers.list_triggers(session, tenant_code=tenant_code)
        ]

    headers = ["トリガー", "名前", "状態", "見出し", "通知済み", "次回の実行"]
    click.echo(node_cli._table(headers, _run(work)))


@click.command("trigger-set")
@_tenant
@click.option("--trigger", required=True, help="checkup_4m, checkup_18m, checkup_3y, school_entry")
@click.option("--enable/--disable", "enabled", default=True, show_default=True)
@click.option("--headline", default=None, help="default: the trigger's standard headline")
@click.option("--body", default=None, help="default: the trigger's standard text")
@click.option("--url", default=None, help="https link for the button")
@click.option("--mode", type=click.Choice(["auto", "approval"]), default="auto", show_default=True)
def trigger_set(
    tenant_code: str,
    trigger: str,
    enabled: bool,
    headline: str | None,
    body: str | None,
    url: str | None,
    mode: str,
) -> None:
    """Switch a date trigger on or off and set its wording."""
    from municipal_node.triggers.definitions import DEFINITIONS

    definition = DEFINITIONS.get(trigger)
    data = parse(
        TriggerSettingIn,
        {
            "trigger": trigger,
            "enabled": enabled,
            "headline": headline or (definition.default_headline if definition else "-"),
            "body": body or (definition.default_body if definition else "-"),
            "url": url,
            "mode": mode,
        },
        "日付トリガー",
    )

    async def work(session: AsyncSession) -> str:
        await _require_tenant(session, tenant_code)
        out = await triggers.set_trigger(
            session, tenant_code=tenant_code, data=data, actor=ACTOR, now=node_cli.cli_now()
        )
        state = "有効 / on" if out.enabled else "停止 / off"
        return f"日付トリガー {out.trigger}（{out.label}）: {state}"

    click.echo(_run(work))
