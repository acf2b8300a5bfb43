"""``todoke node issue-codes | setup-rich-menu``: ID連携 letters and the LINE rich menu.

The CLI acts as the node operator (audit actor ``cli``)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import todoke.commands.node as node_cli
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.line.richmenu import Installed, RichMenuError, install
from municipal_node.linking import printing, service
from municipal_node.linking.digest import node_lookup
from municipal_node.linking.letters import japanese_date
from municipal_node.residents.service import UnknownTenantError
from municipal_node.settings import NodeSettings
from municipal_node.tenants import repository as tenants
from municipal_node.tenants.service import load_config

ACTOR = "cli"


def _run(settings: NodeSettings, work: Any) -> Any:
    try:
        return node_cli.run_db(settings, work)
    except service.LinkingError as exc:
        unknown = exc.extra.get("unknown")
        suffix = f": {', '.join(unknown)}" if unknown else ""
        raise click.ClickException(exc.message + suffix) from exc
    except RichMenuError as exc:
        raise click.ClickException(f"LINE がリッチメニューを受け付けませんでした / {exc}") from exc


def _read_ids(path: Path) -> list[str]:
    """One resident id per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(
            f"ファイルを読めません / cannot read: {exc}", param_hint="--from-file"
        ) from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@click.command("issue-codes")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option("--resident", "residents", multiple=True, help="Resident id (repeatable).")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A text file with one resident id per line.",
)
@click.option(
    "--valid-days",
    type=click.IntRange(1, service.MAX_VALID_DAYS),
    default=service.DEFAULT_VALID_DAYS,
    show_default=True,
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the printable letters (HTML, one A4 page per resident).",
)
def issue_codes(
    tenant_code: str,
    residents: tuple[str, ...],
    from_file: Path | None,
    valid_days: int,
    out: Path,
) -> None:
    """Issue one-time registration codes and write their letters (登録コードの発行).

    The codes appear only in the letters file; afterwards only their state can be seen."""
    ids = list(residents) + (_read_ids(from_file) if from_file is not None else [])
    if not ids:
        raise click.UsageError("--resident か --from-file で住民IDを指定してください / give ids")
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> tuple[Any, int]:
        now = node_cli.cli_now()
        async with unit_of_work(sessions) as session:
            tenant = await tenants.get(session, tenant_code)
            if tenant is None:
                raise UnknownTenantError(tenant_code)
            result = await service.issue_codes(
                session,
                sealer=sealer,
                lookup=node_lookup(settings),
                tenant_code=tenant_code,
                resident_ids=ids,
                valid_days=valid_days,
                actor=ACTOR,
                now=now,
            )
            name = tenant.name
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            async for piece in printing.stream_letters(
                sessions,
                sealer=sealer,
                tenant_code=tenant_code,
                tenant_name=name,
                issue_id=result.issue_id,
                actor=ACTOR,
                now=now,
            ):
                handle.write(piece)
        return result, len(result.codes)

    result, count = _run(settings, work)
    click.echo(
        f"発行番号 {result.issue_id}: {count} 件の登録コードを発行しました "
        f"（有効期限 {japanese_date(result.expires_at - timedelta(seconds=1))}まで、"
        f"古いコード {result.revoked} 件は無効化）"
        f" / issued {count} code(s); letters written to {out}"
    )


@click.command("setup-rich-menu")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
def setup_rich_menu(tenant_code: str) -> None:
    """Create the rich menu (受信設定 / ID連携 / 配信停止・再開) and make it the default."""
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Installed:
        async with sessions() as session:
            config = await load_config(session, tenant_code, sealer=sealer)
        if config is None:
            raise UnknownTenantError(tenant_code)
        return await install(config, timeout_seconds=settings.line_timeout_seconds)

    installed = _run(settings, work)
    click.echo(
        f"リッチメニューを設定しました / rich menu set as default: {installed.rich_menu_id}"
        + (f"（古いメニュー {len(installed.removed)} 件を削除）" if installed.removed else "")
    )
