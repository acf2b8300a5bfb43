"""``todoke node …``: run and operate a municipal node (自治体ノード)."""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.errors import ContractError
from municipal_node.clock import FileClock, SystemClock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine, session_factory, unit_of_work
from municipal_node.db.migrate import upgrade_to_head
from municipal_node.relay.service import keyset_view
from municipal_node.residents.service import UnknownTenantError
from municipal_node.settings import NodeSettings
from municipal_node.status.service import notice_statuses
from municipal_node.tenants import repository as tenant_repository
from municipal_node.tenants.schemas import TenantError
from municipal_node.tenants.service import (
    add_tenant,
    load_config,
    parse_root_key_text,
    set_hub_credential,
)
from todoke.commands.lazy import LazyGroup
from todoke.serving import serve_app

T = TypeVar("T")


def load_settings() -> NodeSettings:
    try:
        return NodeSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TODOKE_NODE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise click.ClickException(f"設定が不正です / invalid settings: {problems}") from exc


def cli_now() -> datetime:
    """Now, for a CLI command: the node's configured clock — the demo's simulated one when
    ``TODOKE_NODE_CLOCK_FILE`` is set — so what the CLI records and schedules lines up with
    what ``todoke node serve`` does on the same clock."""
    settings = load_settings()
    clock = SystemClock() if settings.clock_file is None else FileClock(settings.clock_file)
    return clock.now()


def run_db(
    settings: NodeSettings, work: Callable[[async_sessionmaker[AsyncSession], Sealer], Awaitable[T]]
) -> T:
    """Upgrade the schema to head, then run ``work`` with a session factory."""

    async def main() -> T:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine), settings.sealer())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except TenantError as exc:
        raise click.ClickException(exc.message) from exc
    except UnknownTenantError as exc:
        raise click.ClickException(str(exc)) from exc
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise click.ClickException(
            f"データベースエラー / database error: {type(exc).__name__}: {first}"
        ) from exc


@click.group("node", cls=LazyGroup)
def node_group() -> None:
    """Run and operate a municipal node (自治体ノード). Settings: TODOKE_NODE_* variables."""


@node_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int, help="0 = a free port")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--log-level", default="warning", show_default=True)
def serve(host: str, port: int, ready_file: Path | None, log_level: str) -> None:
    """Serve the node (webhooks, status API) and run its feed followers and dispatchers."""
    from municipal_node.app import create_app

    settings = load_settings()
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    serve_app(
        create_app(settings), host=host, port=port, ready_file=ready_file, log_level=log_level
    )


@node_group.command("migrate")
def migrate() -> None:
    """Bring the node's database to the newest schema."""
    settings = load_settings()
    try:
        upgrade_to_head(settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        raise click.ClickException(f"migration failed: {type(exc).__name__}: {exc}") from exc
    click.echo("データベースは最新です / database is at head")


def _root_keys(values: tuple[str, ...]) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    for value in values:
        path = Path(value)
        text = path.read_text("utf-8") if not value.lstrip().startswith(("{", "[")) else value
        keys.extend(parse_root_key_text(text))
    return keys


@node_group.command("add-tenant")
@click.option("--code", required=True, help="5-digit municipality JIS code, e.g. 23235")
@click.option("--name", required=True, help="e.g. 弥富市")
@click.option("--hub-url", required=True)
@click.option(
    "--hub-root-key",
    "hub_root_keys",
    multiple=True,
    required=True,
    help='File or JSON of {"kid","jwk"} as `todoke hub root-key` prints (repeatable).',
)
@click.option("--line-channel-secret", required=True)
@click.option("--line-channel-token", required=True)
@click.option("--line-api-base-url", default="https://api.line.me", show_default=True)
@click.option(
    "--hub-credential",
    default=None,
    help="The subscriber credential `todoke hub add-subscriber` printed (the feed needs it).",
)
def add_tenant_command(
    code: str,
    name: str,
    hub_url: str,
    hub_root_keys: tuple[str, ...],
    line_channel_secret: str,
    line_channel_token: str,
    line_api_base_url: str,
    hub_credential: str | None,
) -> None:
    """Register a municipality (tenant) with its hub and LINE channel."""
    settings = load_settings()
    try:
        keys = _root_keys(hub_root_keys)
    except TenantError as exc:
        raise click.BadParameter(exc.message, param_hint="--hub-root-key") from exc
    except OSError as exc:
        raise click.BadParameter(
            f"ファイルを読めません / cannot read: {exc}", param_hint="--hub-root-key"
        ) from exc

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        async with unit_of_work(sessions) as session:
            await add_tenant(
                session,
                sealer=sealer,
                code=code,
                name=name,
                hub_url=hub_url,
                root_keys=keys,
                line_channel_secret=line_channel_secret,
                line_access_token=line_channel_token,
                line_api_base_url=line_api_base_url,
                now=cli_now(),
                hub_credential=hub_credential,
            )

    run_db(settings, work)
    click.echo(f"テナントを登録しました / tenant added: {code} {name}")
    if hub_credential is None:
        click.echo(
            "注意: ハブの認証情報が未設定です。`todoke node set-hub-credential` で設定するまで"
            "通知を受信できません / warning: no hub credential; the hub refuses the feed until "
            "`todoke node set-hub-credential` sets one",
            err=True,
        )


@node_group.command("set-hub-credential")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option(
    "--credential",
    required=True,
    help="The subscriber credential the hub issued (`todoke hub add-subscriber`).",
)
def set_hub_credential_command(tenant_code: str, credential: str) -> None:
    """Set or rotate the tenant's hub credential; a running node uses it from its next round."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        async with unit_of_work(sessions) as session:
            await set_hub_credential(
                session,
                sealer=sealer,
                code=tenant_code,
                credential=credential,
                now=cli_now(),
            )

    run_db(settings, work)
    click.echo(f"ハブの認証情報を更新しました / hub credential updated: {tenant_code}")


def _print_pins(code: str, keys: tuple[Any, ...]) -> None:
    click.echo(f"テナント {code} の固定ルート鍵 / pinned hub root keys of {code}:")
    for key in keys:
        click.echo(f"  {key.kid}  x={key.jwk.get('x')}")


@node_group.command("pin-root-key")
@click.option("--tenant", "tenant_code", required=True)
@click.option(
    "--hub-root-key",
    "hub_root_keys",
    multiple=True,
    required=True,
    help='File or JSON of {"kid","jwk"} as `todoke hub root-key` prints (repeatable).',
)
def pin_root_key_command(tenant_code: str, hub_root_keys: tuple[str, ...]) -> None:
    """Pin another hub root key (before the hub switches to it) (ルート鍵の追加)."""
    from municipal_node.tenants.root_keys import pin_root_keys

    settings = load_settings()
    try:
        keys = _root_keys(hub_root_keys)
    except TenantError as exc:
        raise click.BadParameter(exc.message, param_hint="--hub-root-key") from exc
    except OSError as exc:
        raise click.BadParameter(
            f"ファイルを読めません / cannot read: {exc}", param_hint="--hub-root-key"
        ) from exc

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with unit_of_work(sessions) as session:
            return await pin_root_keys(session, code=tenant_code, keys=keys, now=cli_now())

    _print_pins(tenant_code, run_db(settings, work))


@node_group.command("unpin-root-key")
@click.option("--tenant", "tenant_code", required=True)
@click.option("--kid", required=True, help="The old hub root key id, e.g. hub-aichi/root1")
def unpin_root_key_command(tenant_code: str, kid: str) -> None:
    """Unpin a hub root key no longer used by the hub (never the last one) (ルート鍵の削除)."""
    from municipal_node.tenants.root_keys import unpin_root_key

    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with unit_of_work(sessions) as session:
            return await unpin_root_key(session, code=tenant_code, kid=kid, now=cli_now())

    _print_pins(tenant_code, run_db(settings, work))


@node_group.command("keyset")
@click.option("--tenant", "tenant_code", required=True)
def keyset_command(tenant_code: str) -> None:
    """Print the hub key set the node last verified for the tenant (JSON): publisher keys,
    validity and revocations (信頼している鍵)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with sessions() as session:
            config = await load_config(session, tenant_code, sealer=sealer)
            if config is None:
                raise UnknownTenantError(tenant_code)
            view = await keyset_view(
                session, tenant_code=tenant_code, root_keys=config.root_key_map()
            )
        if view is None:
            return None
        keyset, row = view
        return {
            "hub": keyset.hub,
            "issued_at": keyset.issued_at.isoformat(),
            "valid_until": keyset.valid_until.isoformat(),
            "verified_at": row.verified_at.isoformat(),
            "keys": [
                {
                    "kid": key.kid,
                    "publisher": key.publisher,
                    "not_before": key.not_before.isoformat(),
                    "not_after": key.not_after.isoformat(),
                    "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
                }
                for key in keyset.keys
            ],
        }

    try:
        view = run_db(settings, work)
    except ContractError as exc:
        raise click.ClickException(
            f"保存された鍵セットを検証できません / the stored key set does not verify: {exc.message}"
        ) from exc
    if view is None:
        raise click.ClickException(
            "鍵セットはまだ受信していません / no key set verified yet for this tenant"
        )
    click.echo(json.dumps(view, ensure_ascii=False, indent=2))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell + " " * (w - _width(cell)) for cell, w in zip(cells, widths, strict=True)
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


@node_group.command("status")
@click.option("--tenant", "tenant_code", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the status API's JSON instead.")
def status(tenant_code: str, as_json: bool) -> None:
    """Show the tenant's notices and their delivery counts (配信状況)."""
    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with sessions() as session:
            if await tenant_repository.get(session, tenant_code) is None:
                raise UnknownTenantError(tenant_code)
            return await notice_statuses(session, tenant_code=tenant_code)

    entries = run_db(settings, work)
    if as_json:
        click.echo(
            json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2)
        )
        return
    if not entries:
        click.echo("通知はまだありません / no notices yet")
        return
    headers = ["seq", "発信者", "通知ID", "見出し", "種別", "状態", "対象", "送信", "失敗", "理由"]
    rows = [
        [
            str(e.seq),
            e.publisher,
            e.notice_id,
            (e.headline or "")[:30],
            f"{e.msg_type or '-'}/{e.status or '-'}",
            e.state,
            str(e.targeted),
            str(e.sent),
            str(e.failed),
            (e.reason or "")[:60],
        ]
        for e in entries
    ]
    click.echo(_table(headers, rows))


#: subcommands in their own modules, imported only when used (``todoke.commands.lazy``)
node_group.lazy.update(
    {
        "add-staff": "todoke.commands.node_staff:add_staff",
        "campaign-add": "todoke.commands.node_campaigns:campaign_add",
        "campaign-baseline": "todoke.commands.node_campaigns:campaign_baseline",
        "campaign-cancel": "todoke.commands.node_campaigns:campaign_cancel",
        "campaign-phase": "todoke.commands.node_campaigns:campaign_phase",
        "campaign-show": "todoke.commands.node_campaigns:campaign_show",
        "campaigns": "todoke.commands.node_campaigns:campaign_list",
        "cancel-send": "todoke.commands.node_dispatch:cancel_send",
        "disable-staff": "todoke.commands.node_staff:disable_staff",
        "dispatch-worker": "todoke.commands.node_dispatch:dispatch_worker",
        "enable-staff": "todoke.commands.node_staff:enable_staff",
        "import-applicants": "todoke.commands.node_applications:import_applicants_command",
        "import-residents": "todoke.commands.node_residents:import_residents",
        "issue-codes": "todoke.commands.node_line:issue_codes",
        "kpis": "todoke.commands.node_reports:kpis_command",
        "list-staff": "todoke.commands.node_staff:list_staff",
        "purge": "todoke.commands.node_privacy:purge_command",
        "recurring-add": "todoke.commands.node_recurring:recurring_add",
        "recurring-example": "todoke.commands.node_recurring:recurring_example",
        "recurring-list": "todoke.commands.node_recurring:recurring_list",
        "recurring-preview": "todoke.commands.node_recurring:recurring_preview",
        "recurring-set": "todoke.commands.node_recurring:recurring_set",
        "remove-staff": "todoke.commands.node_staff:remove_staff",
        "report-key": "todoke.commands.node_reports:report_key_command",
        "reports": "todoke.commands.node_reports:list_reports_command",
        "reset-staff-password": "todoke.commands.node_staff:reset_staff_password",
        "rotate-key": "todoke.commands.node_privacy:rotate_key",
        "rule-add": "todoke.commands.node_rules:rule_add",
        "rule-list": "todoke.commands.node_rules:rule_list",
        "scheduled-tasks": "todoke.commands.node_campaigns:scheduled_tasks",
        "segment-add": "todoke.commands.node_rules:segment_add",
        "segment-count": "todoke.commands.node_rules:segment_count",
        "sends": "todoke.commands.node_dispatch:list_sends",
        "set-liff": "todoke.commands.node_applications:set_liff_command",
        "set-staff-role": "todoke.commands.node_staff:set_staff_role",
        "setup-rich-menu": "todoke.commands.node_line:setup_rich_menu",
        "submit-reports": "todoke.commands.node_reports:submit_reports_command",
        "template-add": "todoke.commands.node_rules:template_add",
        "trigger-list": "todoke.commands.node_recurring:trigger_list",
        "trigger-set": "todoke.commands.node_recurring:trigger_set",
    }
)
