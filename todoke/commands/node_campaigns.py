"""``todoke node campaign-add | campaigns | campaign-show | campaign-phase | campaign-cancel |
campaign-baseline``: campaigns (申請キャンペーン: 予告 → 受付開始 → 締切前リマインド) from the
command line. The CLI acts as the node operator (actor ``cli``); every change is audited like
the API's. Times are shown in JST."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import todoke.commands.node as node_cli
from municipal_node.campaigns import repository, service
from municipal_node.campaigns.models import CampaignPhaseName
from municipal_node.campaigns.schemas import CampaignOut
from municipal_node.campaigns.timing import parse_hhmm
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.segments.ages import JST
from municipal_node.segments.http_errors import ApiError
from municipal_node.tenants.schemas import TenantConfig
from municipal_node.tenants.service import load_config

ACTOR = "cli"
T = TypeVar("T")

_tenant = click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
_campaign = click.option("--campaign", "campaign_id", type=int, required=True, help="campaign id")
_json = click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")


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


async def _tenant_config(session: AsyncSession, sealer: Sealer, tenant_code: str) -> TenantConfig:
    config = await load_config(session, tenant_code, sealer=sealer)
    if config is None:
        raise ApiError(
            "UNKNOWN_TENANT",
            f"テナント {tenant_code} は登録されていません / unknown tenant {tenant_code}",
            404,
        )
    return config


async def _out(session: AsyncSession, tenant_code: str, campaign_id: int) -> CampaignOut:
    campaign = await service.get_campaign(session, tenant_code, campaign_id)
    phases = await repository.phases_of(session, tenant_code, [campaign_id])
    return CampaignOut.of(campaign, phases[campaign_id], with_messages=True)


def parse_time(text: str) -> datetime:
    """ISO 8601; without an offset the time is JST (``2027-01-12 09:00``)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"日時は 2027-01-12T09:00+09:00 や 2027-01-12 09:00（JST）の形で指定してください / "
            f"not a date-time: {text!r}"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=JST)


def _table(campaign: CampaignOut) -> str:
    lines = [
        f"キャンペーン {campaign.id}「{campaign.title}」 状態: {campaign.state}",
        f"  通知: {campaign.publisher}/{campaign.notice_id}",
        f"  受付期間: {campaign.opens_at_jst} 〜 {campaign.closes_at_jst}",
        f"  夜間停止: {campaign.quiet_start}〜{campaign.quiet_end}  休日を避ける: "
        f"{'はい' if campaign.skip_holidays else 'いいえ'}  前年の申請率: "
        f"{'-' if campaign.baseline_rate is None else f'{campaign.baseline_rate:.1%}'}",
    ]
    if campaign.reason:
        lines.append(f"  理由: {campaign.reason}")
    for phase in campaign.phases:
        job = f" 送信 {phase.job_id}" if phase.job_id is not None else ""
        lines.append(
            f"  - {phase.label}（{phase.phase}）: {phase.send_at_jst}  状態: {phase.state}"
            f"{'' if phase.enabled else '（停止）'}{job}"
        )
        if phase.reason:
            lines.append(f"      {phase.reason}")
    return "\n".join(lines)


def _echo(campaign: CampaignOut, as_json: bool) -> None:
    if as_json:
        click.echo(campaign.model_dump_json(indent=2))
    else:
        click.echo(_table(campaign))


@click.command("campaign-add")
@_tenant
@click.option("--publisher", required=True, help="the notice's publisher id")
@click.option("--notice-id", required=True, help="the notice's id (ULID)")
@click.option("--title", default=None, help="title shown to staff (default: the headline)")
@click.option("--quiet-start", default="21:00", show_default=True, help="quiet hours start, JST")
@click.option("--quiet-end", default="08:00", show_default=True, help="quiet hours end, JST")
@click.option("--skip-holidays", is_flag=True, help="move sends off weekends and holidays")
@click.option("--baseline-rate", type=click.FloatRange(0, 1), default=None, help="0..1")
@_json
def campaign_add(
    tenant_code: str,
    publisher: str,
    notice_id: str,
    title: str | None,
    quiet_start: str,
    quiet_end: str,
    skip_holidays: bool,
    baseline_rate: float | None,
    as_json: bool,
) -> None:
    """Make the campaign of a stored notice with an application window (申請キャンペーン作成)."""
    for name, value in (("--quiet-start", quiet_start), ("--quiet-end", quiet_end)):
        try:
            parse_hhmm(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=name) from exc

    async def work(session: AsyncSession, sealer: Sealer) -> CampaignOut:
        tenant = await _tenant_config(session, sealer, tenant_code)
        campaign_id = await service.create_for_notice(
            session,
            tenant=tenant,
            publisher=publisher,
            notice_id=notice_id,
            now=node_cli.cli_now(),
            actor=ACTOR,
            options=service.CampaignOptions(
                title=title,
                quiet_start=quiet_start,
                quiet_end=quiet_end,
                skip_holidays=skip_holidays,
                baseline_rate=baseline_rate,
            ),
        )
        return await _out(session, tenant_code, campaign_id)

    _echo(_run(work), as_json)


@click.command("campaigns")
@_tenant
@_json
def campaign_list(tenant_code: str, as_json: bool) -> None:
    """List the municipality's campaigns with their phases (申請キャンペーン一覧)."""

    async def work(session: AsyncSession, sealer: Sealer) -> list[CampaignOut]:
        await _tenant_config(session, sealer, tenant_code)
        campaigns = await repository.list_for_tenant(session, tenant_code)
        phases = await repository.phases_of(session, tenant_code, [c.id for c in campaigns])
        return [CampaignOut.of(c, phases[c.id]) for c in campaigns]

    campaigns = _run(work)
    if as_json:
        click.echo(json.dumps([c.model_dump(mode="json") for c in campaigns], ensure_ascii=False))
        return
    if not campaigns:
        click.echo("キャンペーンはありません / no campaigns")
    for campaign in campaigns:
        click.echo(_table(campaign))


@click.command("campaign-show")
@_tenant
@_campaign
@_json
def campaign_show(tenant_code: str, campaign_id: int, as_json: bool) -> None:
    """One campaign with its phases."""

    async def work(session: AsyncSession, sealer: Sealer) -> CampaignOut:
        await _tenant_config(session, sealer, tenant_code)
        return await _out(session, tenant_code, campaign_id)

    _echo(_run(work), as_json)


@click.command("campaign-phase")
@_tenant
@_campaign
@click.option(
    "--phase", type=click.Choice(list(CampaignPhaseName.ALL)), required=True, help="which phase"
)
@click.option("--send-at", default=None, help="new send time (ISO 8601; no offset = JST)")
@click.option("--enable/--disable", "enabled", default=None, help="switch the phase on or off")
@click.option(
    "--text-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the phase's wording (UTF-8; placeholders such as {見出し} {締切} {受付URL})",
)
@click.option("--alt-text", default=None, help="notification text (altText)")
@_json
def campaign_phase(
    tenant_code: str,
    campaign_id: int,
    phase: str,
    send_at: str | None,
    enabled: bool | None,
    text_file: Path | None,
    alt_text: str | None,
    as_json: bool,
) -> None:
    """Change a phase that has not been sent: time, on/off, wording (フェーズの変更)."""
    when = parse_time(send_at) if send_at is not None else None
    text = None
    if text_file is not None:
        try:
            text = text_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(
                f"ファイルを読めません / cannot read {text_file}: {type(exc).__name__}"
            ) from exc

    async def work(session: AsyncSession, sealer: Sealer) -> CampaignOut:
        tenant = await _tenant_config(session, sealer, tenant_code)
        await service.change_phase(
            session,
            tenant=tenant,
            campaign_id=campaign_id,
            phase=phase,
            change=service.PhaseChange(
                send_at=when, enabled=enabled, text=text or None, alt_text=alt_text or None
            ),
            now=node_cli.cli_now(),
            actor=ACTOR,
        )
        return await _out(session, tenant_code, campaign_id)

    _echo(_run(work), as_json)


@click.command("campaign-cancel")
@_tenant
@_campaign
@click.option("--reason", required=True, help="why (shown to staff and in the audit log)")
def campaign_cancel(tenant_code: str, campaign_id: int, reason: str) -> None:
    """Cancel a campaign: no further phase is sent (キャンペーン中止)."""

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _tenant_config(session, sealer, tenant_code)
        await service.cancel_campaign(
            session,
            tenant_code=tenant_code,
            campaign_id=campaign_id,
            reason=reason,
            now=node_cli.cli_now(),
            actor=ACTOR,
        )
        return f"キャンペーン {campaign_id} を中止しました / campaign {campaign_id} cancelled"

    click.echo(_run(work))


@click.command("campaign-baseline")
@_tenant
@_campaign
@click.option("--rate", type=click.FloatRange(0, 1), default=None, help="0..1, e.g. 0.42")
@click.option("--clear", is_flag=True, help="remove the baseline rate")
def campaign_baseline(tenant_code: str, campaign_id: int, rate: float | None, clear: bool) -> None:
    """Enter last year's share of the segment that applied in time (前年の申請率)."""
    if (rate is None) == (not clear):
        raise click.UsageError(
            "--rate か --clear のどちらかを指定してください / give --rate or --clear"
        )

    async def work(session: AsyncSession, sealer: Sealer) -> str:
        await _tenant_config(session, sealer, tenant_code)
        await service.set_baseline(
            session,
            tenant_code=tenant_code,
            campaign_id=campaign_id,
            rate=None if clear else rate,
            now=node_cli.cli_now(),
            actor=ACTOR,
        )
        shown = "なし" if clear or rate is None else f"{rate:.1%}"
        return f"前年の申請率を {shown} にしました / baseline rate set"

    click.echo(_run(work))


@click.command("scheduled-tasks")
@_tenant
@click.option("--kind", default=None, help="only this kind (campaign_phase, recurring, …)")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "done", "missed", "failed", "cancelled"]),
    help="only these states (repeatable)",
)
@_json
def scheduled_tasks(
    tenant_code: str, kind: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """The municipality's scheduled tasks: due time (JST), state, attempts, last error
    (予約された処理の一覧; missed = the node was down past the catch-up window)."""
    from municipal_node.campaigns.timing import jst_text
    from municipal_node.scheduler import service as scheduler_service

    async def work(session: AsyncSession, sealer: Sealer) -> list[dict[str, object]]:
        await _tenant_config(session, sealer, tenant_code)
        rows = await scheduler_service.list_tasks(session, tenant_code, kind=kind)
        return [
            {
                "kind": row.kind,
                "key": row.key,
                "due_at": row.due_at.isoformat(),
                "due_at_jst": jst_text(row.due_at),
                "state": row.state,
                "attempts": row.attempts,
                "last_error": row.last_error,
            }
            for row in rows
            if not states or row.state in states
        ]

    rows = _run(work)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("予約された処理はありません / no scheduled tasks")
    for row in rows:
        click.echo(
            f"{row['due_at_jst']}  {row['state']:<9}  {row['kind']}  {row['key']}"
            f"  (試行 {row['attempts']})"
        )
        if row["last_error"]:
            click.echo(f"    {row['last_error']}")
