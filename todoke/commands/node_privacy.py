"""``todoke node rotate-key`` and ``todoke node purge``: key rotation and retention (個人情報の保護).

Registered onto ``node_group`` by ``todoke.commands.node``.
"""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.crypto import Sealer
from municipal_node.db.metadata import metadata
from municipal_node.privacy.retention import PolicyResult, purge
from municipal_node.privacy.rotation import DEFAULT_BATCH, ColumnResult, rotate_all
from municipal_node.privacy.sealed_columns import unregistered_sealed_columns
from todoke.commands.node import cli_now


@click.command("rotate-key")
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True
)
def rotate_key(batch_size: int) -> None:
    """Re-seal every encrypted column under the current key (暗号鍵の切り替え).

    First make the new key TODOKE_NODE_ENCRYPTION_KEY and put the old one in
    TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS. Each batch commits on its own; running the command
    again resumes. When it reports nothing remaining, the old key can be removed."""
    from todoke.commands.node import load_settings, run_db

    settings = load_settings()
    unregistered = unregistered_sealed_columns(metadata)
    if unregistered:
        raise click.ClickException(
            "鍵の切り替え対象に登録されていない暗号化列があります / sealed columns not "
            f"registered for rotation: {', '.join(unregistered)} "
            "(municipal_node.privacy.sealed_columns.register_sealed_column)"
        )

    def progress(result: ColumnResult) -> None:
        click.echo(f"  {result.name}: {result.resealed:,} 件 re-sealed …", err=True)

    async def work(
        sessions: async_sessionmaker[AsyncSession], sealer: Sealer
    ) -> list[ColumnResult]:
        click.echo(f"現在の鍵 / current key id: {sealer.key_id}", err=True)
        return await rotate_all(
            sessions,
            sealer=sealer,
            actor="cli",
            now=cli_now(),
            batch_size=batch_size,
            on_batch=progress,
        )

    results = run_db(settings, work)
    problems = 0
    for result in results:
        line = (
            f"{result.name}: 再暗号化 re-sealed {result.resealed:,}, "
            f"残り remaining {result.remaining:,}"
        )
        for key_id, count in sorted(result.unknown_keys.items()):
            line += f"; 鍵 ID {key_id} が未設定 / key id {key_id} not configured: {count:,}"
        if result.unreadable:
            line += f"; 開けない / unreadable: {result.unreadable:,}"
        click.echo(line)
        problems += result.problems
    if problems:
        raise click.ClickException(
            f"{problems:,} 件を開けませんでした。古い鍵を削除しないでください / {problems:,} "
            "blob(s) could not be opened; do not remove the old key(s) yet"
        )
    click.echo(
        "すべて現在の鍵で暗号化されています。古い鍵は削除できます / everything is sealed under "
        "the current key; the previous key(s) can be removed"
    )


def _describe(result: PolicyResult) -> str:
    if result.count is None:
        return f"{result.name}: 無効 / off (0 days)"
    return f"{result.name} ({result.days} 日 days): {result.count:,}  — {result.description}"


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
def purge_command(dry_run: bool) -> None:
    """Delete or blank what the retention settings no longer keep (保存期間を過ぎたデータの削除)."""
    from todoke.commands.node import load_settings, run_db

    settings = load_settings()

    async def work(
        sessions: async_sessionmaker[AsyncSession], sealer: Sealer
    ) -> list[PolicyResult]:
        return await purge(sessions, settings=settings, now=cli_now(), actor="cli", dry_run=dry_run)

    results = run_db(settings, work)
    click.echo("削除対象（試行） / would purge:" if dry_run else "削除しました / purged:")
    for result in results:
        click.echo("  " + _describe(result))
