"""``todoke node kpis`` / ``report-key`` / ``submit-reports`` / ``reports``: campaign KPIs and
delivery reports to the hub (配信レポート)."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import clock_from_settings
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.kpis.insight import LineInsight
from municipal_node.kpis.render import render_kpis
from municipal_node.kpis.schemas import CampaignKpis
from municipal_node.kpis.service import KpiError, campaign_kpis
from municipal_node.reports.keys import NodeKey, ensure_node_key
from municipal_node.reports.models import DeliveryReport
from municipal_node.reports.service import ReportSetupError, SubmitSummary, submit_changed
from municipal_node.residents.service import UnknownTenantError
from municipal_node.tenants.service import load_config
from todoke.commands.node import _table, load_settings, run_db


@click.command("kpis")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option("--campaign", "campaign_id", required=True, type=int, help="campaign id")
@click.option("--json", "as_json", is_flag=True, help="Print the KPI API's JSON instead.")
def kpis_command(tenant_code: str, campaign_id: int, as_json: bool) -> None:
    """Show a campaign's KPIs per phase: reach, opens, clicks, applications (効果測定)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> CampaignKpis:
        async with sessions() as session:
            config = await load_config(session, tenant_code, sealer=sealer)
            if config is None:
                raise UnknownTenantError(tenant_code)
            async with LineInsight(
                base_url=config.line_api_base_url,
                access_token=config.line_access_token,
                timeout_seconds=settings.line_timeout_seconds,
            ) as insight:
                return await campaign_kpis(
                    session,
                    tenant_code=tenant_code,
                    campaign_id=campaign_id,
                    now=clock_from_settings(settings).now(),
                    insight=insight,
                )

    try:
        kpis = run_db(settings, work)
    except KpiError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(kpis.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    click.echo(render_kpis(kpis))


@click.command("report-key")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option(
    "--rotate", is_flag=True, help="Replace an existing key (register the new one at the hub)."
)
def report_key_command(tenant_code: str, rotate: bool) -> None:
    """Create (or show) the tenant's report signing key; prints its public JWK for
    `todoke hub add-subscriber --node-public-key` (報告用の鍵)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> NodeKey:
        async with unit_of_work(sessions) as session:
            return await ensure_node_key(
                session,
                sealer=sealer,
                code=tenant_code,
                now=clock_from_settings(settings).now(),
                rotate=rotate,
            )

    key = run_db(settings, work)
    what = "作成しました / created" if key.created else "登録済みの鍵です / existing key"
    click.echo(
        f"報告用の鍵を{what}: kid {key.kid}。ハブ管理者に公開鍵（標準出力の JWK）を登録してもらって"
        "ください / register the public JWK (stdout) at the hub: todoke hub add-subscriber "
        "--node-public-key '<JWK>'",
        err=True,
    )
    click.echo(json.dumps(key.jwk))


@click.command("submit-reports")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
def submit_reports_command(tenant_code: str) -> None:
    """Submit the tenant's changed delivery reports to the hub now (配信レポートの送信)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> SubmitSummary:
        async with sessions() as session:
            config = await load_config(session, tenant_code, sealer=sealer)
        if config is None:
            raise UnknownTenantError(tenant_code)
        async with (
            httpx.AsyncClient(timeout=settings.hub_timeout_seconds) as http,
            LineInsight(
                base_url=config.line_api_base_url,
                access_token=config.line_access_token,
                timeout_seconds=settings.line_timeout_seconds,
            ) as insight,
        ):
            return await submit_changed(
                sessions,
                config=config,
                http=http,
                now=clock_from_settings(settings).now(),
                insight=insight,
                actor="cli",
            )

    try:
        summary = run_db(settings, work)
    except ReportSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"送信 {summary.submitted} 件、拒否 {summary.rejected} 件、変更なし {summary.unchanged} 件 "
        f"/ submitted {summary.submitted}, refused {summary.rejected}, unchanged "
        f"{summary.unchanged}"
    )
    for error in summary.errors:
        click.echo(f"エラー / error: {error}", err=True)
    if summary.errors or summary.rejected:
        raise SystemExit(1)


@click.command("reports")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
def list_reports_command(tenant_code: str) -> None:
    """Show what the node last reported to the hub per notice and phase (報告済みの件数)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> list[Any]:
        async with sessions() as session:
            return list(
                await session.scalars(
                    select(DeliveryReport)
                    .where(DeliveryReport.tenant_code == tenant_code)
                    .order_by(DeliveryReport.id)
                )
            )

    rows = run_db(settings, work)
    if not rows:
        click.echo("報告はまだありません / no reports yet")
        return
    headers = ["発信者", "通知ID", "段階", "報告時点", "件数", "失敗", "エラー"]
    click.echo(
        _table(
            headers,
            [
                [
                    r.publisher,
                    r.notice_id,
                    r.phase,
                    "-" if r.as_of is None else r.as_of.isoformat(),
                    json.dumps(r.counts or {}, ensure_ascii=False),
                    str(r.failures),
                    (r.last_error or "")[:60],
                ]
                for r in rows
            ],
        )
    )
