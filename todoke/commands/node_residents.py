"""``todoke node import-residents``: load the core system's resident CSV (住民データの取り込み).

Registered onto ``node_group`` by ``todoke.commands.node``. Progress goes to stderr, the
summary to stdout, every bad line to stderr (Japanese, then English).
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.crypto import Sealer
from municipal_node.residents.csv_format import CsvIssue
from municipal_node.residents.service import (
    CsvRejectedError,
    ImportConflictError,
    ImportSummary,
    import_csv,
)
from todoke.commands.node import cli_now
from todoke.commands.progress import ProgressBar

PHASES = {"validate": "検証 / validating", "import": "取り込み / importing"}


def _print_issues(issues: list[CsvIssue] | tuple[CsvIssue, ...], total: int) -> None:
    for issue in issues:
        click.echo(issue.render(), err=True)
    if total > len(issues):
        click.echo(
            f"…ほか {total - len(issues)} 件（先頭 {len(issues)} 件のみ表示） / "
            f"… {total - len(issues)} more (only the first {len(issues)} are listed)",
            err=True,
        )


@click.command("import-residents")
@click.option("--tenant", "tenant_code", required=True)
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
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_residents(
    tenant_code: str,
    skip_bad: bool,
    max_bad_share: float | None,
    no_progress: bool,
    csv_file: Path,
) -> None:
    """Import residents from CSV (format: README, municipal_node/residents/csv_format.py)."""
    from todoke.commands.node import load_settings, run_db

    settings = load_settings()
    share = settings.import_max_bad_share if max_bad_share is None else max_bad_share
    bar = None if no_progress else ProgressBar(PHASES)

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> ImportSummary:
        try:
            return await import_csv(
                sessions,
                sealer=sealer,
                tenant_code=tenant_code,
                path=csv_file,
                actor="cli",
                now=cli_now(),
                skip_bad=skip_bad,
                max_bad_share=share,
                progress=bar,
            )
        finally:
            if bar is not None:
                bar.close()

    try:
        summary = run_db(settings, work)
    except CsvRejectedError as exc:
        click.echo(exc.message, err=True)
        _print_issues(exc.issues, exc.report.issue_count)
        raise SystemExit(1) from exc
    except ImportConflictError as exc:
        raise click.ClickException(str(exc)) from exc
    if summary.skipped:
        click.echo(
            f"誤りのある {summary.skipped} 行を除いて取り込みました / {summary.skipped} bad "
            "line(s) left out:",
            err=True,
        )
        _print_issues(summary.issues, summary.issue_count)
    click.echo(
        f"取り込み完了 / imported: {summary.rows} 件 (新規 inserted {summary.inserted}, "
        f"更新 updated {summary.updated}, 削除 removed {summary.removed}, "
        f"除外 skipped {summary.skipped})"
    )
