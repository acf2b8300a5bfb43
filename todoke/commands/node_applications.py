"""``todoke node set-liff`` and ``todoke node import-applicants`` (オンライン申請・窓口申請).

Registered onto ``node_group`` by ``todoke.commands.node``.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.applications.service import (
    ApplicantsRejectedError,
    ApplicantsSummary,
    ApplicationError,
    import_applicants,
    set_liff,
)
from municipal_node.clock import clock_from_settings
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.residents.csv_format import CsvIssue

MAX_SHOWN = 200


def _print_issues(issues: list[CsvIssue] | tuple[CsvIssue, ...]) -> None:
    for issue in issues[:MAX_SHOWN]:
        click.echo(issue.render(), err=True)
    if len(issues) > MAX_SHOWN:
        rest = len(issues) - MAX_SHOWN
        click.echo(f"…ほか {rest} 件 / … {rest} more", err=True)


@click.command("set-liff")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option(
    "--liff-id", default=None, help="LIFF ID of the application form (1234567890-AbCdEfGh)"
)
@click.option(
    "--login-channel-id", default=None, help="LINE Login channel id (10 digits) of that LIFF app"
)
@click.option(
    "--public-url",
    default=None,
    help="How residents reach this node, e.g. https://todoke.example.lg.jp (links, the form)",
)
def set_liff_command(
    tenant_code: str, liff_id: str | None, login_channel_id: str | None, public_url: str | None
) -> None:
    """Set the tenant's LIFF app (online application form) and public URL."""
    from todoke.commands.node import load_settings, run_db

    if liff_id is None and login_channel_id is None and public_url is None:
        raise click.UsageError(
            "--liff-id / --login-channel-id / --public-url のどれかを指定してください / "
            "give at least one of --liff-id, --login-channel-id, --public-url"
        )
    settings = load_settings()

    async def work(
        sessions: async_sessionmaker[AsyncSession], sealer: Sealer
    ) -> dict[str, str | None]:
        async with unit_of_work(sessions) as session:
            return await set_liff(
                session,
                code=tenant_code,
                liff_id=liff_id,
                login_channel_id=login_channel_id,
                public_url=public_url,
                now=clock_from_settings(settings).now(),
            )

    values = run_db(settings, work)
    click.echo(f"LIFF 設定を更新しました / LIFF settings updated: {tenant_code}")
    for key, label in (
        ("liff_id", "LIFF ID"),
        ("login_channel_id", "LINEログインチャネルID / LINE Login channel"),
        ("public_base_url", "公開URL / public URL"),
    ):
        click.echo(f"  {label}: {values[key] or '未設定 / not set'}")
    if values["public_base_url"]:
        from municipal_node.campaigns.links import endpoint_url

        click.echo(
            "  LINE Developers コンソールに登録するエンドポイントURL / endpoint URL to register "
            f"for the LIFF app: {endpoint_url(values['public_base_url'], tenant_code)}"
        )


@click.command("import-applicants")
@click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
@click.option("--campaign", "campaign_id", required=True, type=click.IntRange(min=1))
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the good lines and report the bad ones (refused above --max-bad-share).",
)
@click.option(
    "--max-bad-share",
    type=click.FloatRange(0, 1),
    default=None,
    help="With --skip-bad: largest share of bad lines still imported "
    "(default TODOKE_NODE_IMPORT_MAX_BAD_SHARE, 0.1).",
)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_applicants_command(
    tenant_code: str,
    campaign_id: int,
    skip_bad: bool,
    max_bad_share: float | None,
    csv_file: Path,
) -> None:
    """Import counter/mail applicants of a campaign (CSV: resident_id,applied_at)."""
    from todoke.commands.node import load_settings, run_db

    settings = load_settings()
    share = settings.import_max_bad_share if max_bad_share is None else max_bad_share

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> ApplicantsSummary:
        async with unit_of_work(sessions) as session:
            with csv_file.open("rb") as stream:
                return await import_applicants(
                    session,
                    tenant_code=tenant_code,
                    campaign_id=campaign_id,
                    stream=stream,
                    skip_bad=skip_bad,
                    max_bad_share=share,
                    actor="cli",
                    now=clock_from_settings(settings).now(),
                )

    try:
        summary = run_db(settings, work)
    except ApplicantsRejectedError as exc:
        click.echo(exc.message, err=True)
        _print_issues(exc.issues)
        raise SystemExit(1) from exc
    except ApplicationError as exc:
        raise click.ClickException(exc.message) from exc
    if summary.skipped:
        click.echo(
            f"誤りのある {summary.skipped} 行を除いて取り込みました / {summary.skipped} bad "
            "line(s) left out:",
            err=True,
        )
        _print_issues(summary.issues)
    click.echo(
        f"取り込み完了 / imported: {summary.rows} 行 (新規 inserted {summary.inserted}, "
        f"申請済み already applied {summary.existing}, 除外 skipped {summary.skipped})"
    )
