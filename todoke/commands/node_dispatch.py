"""``todoke node sends`` / ``cancel-send`` / ``dispatch-worker``: the dispatch engine (送信)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.clock import clock_from_settings
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.dispatch import control
from municipal_node.dispatch.schemas import DispatchError
from municipal_node.dispatch.worker import LineOptions
from municipal_node.residents.service import UnknownTenantError
from municipal_node.tenants import repository as tenant_repository
from municipal_node.workers import SendWorkers
from todoke.commands.node import _table, cli_now, load_settings, run_db


async def _known_tenant(session: AsyncSession, tenant_code: str) -> None:
    if await tenant_repository.get(session, tenant_code) is None:
        raise UnknownTenantError(tenant_code)


@click.command("sends")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option("--state", default=None, help="only jobs in this state (planning, held, …)")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print the sends API's JSON instead.")
def list_sends(tenant_code: str, state: str | None, limit: int, as_json: bool) -> None:
    """Show the tenant's send jobs, newest first, with their counts (送信の一覧)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with sessions() as session:
            await _known_tenant(session, tenant_code)
            return await control.list_jobs(
                session, tenant_code=tenant_code, state=state, limit=limit
            )

    try:
        jobs = run_db(settings, work)
    except DispatchError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(
            json.dumps([j.model_dump(mode="json") for j in jobs], ensure_ascii=False, indent=2)
        )
        return
    if not jobs:
        click.echo("送信はまだありません / no sends yet")
        return
    headers = ["id", "発信者", "通知ID", "段階", "状態", "対象", "送信", "失敗", "取消", "理由"]
    rows = [
        [
            str(j.id),
            j.publisher,
            j.notice_id,
            j.phase,
            j.state,
            str(j.targeted),
            str(j.counts.recipients_sent),
            str(j.counts.recipients_failed),
            str(j.counts.recipients_cancelled),
            (j.reason or "")[:60],
        ]
        for j in jobs
    ]
    click.echo(_table(headers, rows))


@click.command("cancel-send")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option("--publisher", required=True, help="e.g. gov-cfa")
@click.option("--notice", "notice_id", required=True, help="the notice's ULID")
@click.option("--reason", required=True, help="why (kept with the send and in the audit log)")
def cancel_send(tenant_code: str, publisher: str, notice_id: str, reason: str) -> None:
    """Stop every pending send of a notice at once (送信の取消)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> int:
        async with unit_of_work(sessions) as session:
            await _known_tenant(session, tenant_code)
            return await control.cancel_notice(
                session,
                tenant_code=tenant_code,
                publisher=publisher,
                notice_id=notice_id,
                actor="cli",
                now=cli_now(),
                reason=reason,
            )

    try:
        count = run_db(settings, work)
    except DispatchError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"取り消しました / cancelled: {publisher}/{notice_id} — 未送信のバッチ {count} 件を停止 "
        f"/ {count} pending batch(es) stopped"
    )


@click.command("dispatch-worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="senders per tenant (default: TODOKE_NODE_DISPATCH_CONCURRENCY)",
)
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--log-level", default="warning", show_default=True)
def dispatch_worker(concurrency: int | None, ready_file: Path | None, log_level: str) -> None:
    """Send outbox batches only (no feed, no webhooks, no planning): run as many of these as
    you like next to `todoke node serve`; on PostgreSQL they share the work with
    FOR UPDATE SKIP LOCKED. Set TODOKE_NODE_DISPATCH_PROCESSES to the number of sending
    processes so they split the multicast rate."""
    settings = load_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"dispatch_concurrency": concurrency})
    if settings.dispatch_concurrency < 1:
        raise click.ClickException(
            "TODOKE_NODE_DISPATCH_CONCURRENCY は 1 以上にしてください / must be ≥ 1 for a worker"
        )
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def main() -> None:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        workers = SendWorkers(
            sessions=session_factory(engine),
            sealer=settings.sealer(),
            clock=clock_from_settings(settings),
            interval=settings.poll_interval_seconds,
            line=LineOptions.from_settings(settings),
        )
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        runner = asyncio.create_task(workers.run())
        if ready_file is not None:
            ready_file.write_text(json.dumps({"pid": os.getpid()}), "utf-8")
        click.echo("送信ワーカーを起動しました / dispatch worker started", err=True)
        try:
            await stopping.wait()
        finally:
            await workers.stop()
            await runner
            await engine.dispose()

    asyncio.run(main())
