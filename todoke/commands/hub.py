"""``todoke hub …``: operate a prefecture hub (``todoke publish`` is in ``todoke.commands.publish``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import SystemClock
from hub.db import create_engine, create_sessionmaker, upgrade_to_head
from hub.identity import HubIdentity
from hub.publishers.registry import (
    RegistryError,
    add_publisher_key,
    list_publishers,
    publisher_warnings,
    revoke_key,
)
from hub.settings import HubSettings, SettingsError

T = TypeVar("T")
DEFAULT_VALID_DAYS = 365


def load_settings() -> HubSettings:
    try:
        return HubSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TODOKE_HUB_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise click.ClickException(f"設定が不正です / invalid settings: {problems}") from exc


def run_db(settings: HubSettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Upgrade the database, then run ``work`` in one transaction."""

    async def main() -> T:
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except RegistryError as exc:
        raise click.ClickException(exc.message) from exc
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise click.ClickException(
            f"データベースエラー / database error ({settings.database_url.split('://')[0]}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc


def parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"RFC 3339 の日時ではありません / not an RFC 3339 time: {value}"
        ) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"時差 (例 +09:00) が必要です / {option} needs an offset, e.g. 2026-04-01T00:00:00+09:00"
        )
    return parsed.astimezone(UTC)


def read_jwk(value: str) -> dict[str, Any]:
    """``--public-key``: a JWK JSON inline, or the path of a file holding it."""
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"公開鍵ファイルを読めません / cannot read {value}: {exc.strerror}"
            ) from exc
    try:
        jwk = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(
            "公開鍵は JWK の JSON で指定してください / give the public key as JWK JSON "
            '(as `todoke keys new` prints: {"kty":"OKP","crv":"Ed25519","x":…})'
        ) from exc
    if not isinstance(jwk, dict):
        raise click.BadParameter("公開鍵は JSON オブジェクトです / the JWK must be a JSON object")
    return jwk


@click.group("hub")
def hub_group() -> None:
    """Operate the prefecture hub (県ハブの運用): serve, migrate, register publishers."""


@hub_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, help="0 = any free port")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
def serve(host: str, port: int, ready_file: Path | None) -> None:
    """Serve the GraphQL API (upgrades the database first)."""
    from hub.app import create_app
    from todoke.serving import serve_app

    settings = load_settings()
    try:
        app = create_app(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve_app(app, host=host, port=port, ready_file=ready_file)


@hub_group.command("migrate")
def migrate() -> None:
    """Upgrade the hub database to the latest schema."""
    settings = load_settings()
    try:
        upgrade_to_head(settings.database_url)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise click.ClickException(
            f"マイグレーションに失敗しました / migration failed: {exc}"
        ) from exc
    click.echo("データベースを最新にしました / database is up to date")


@hub_group.command("add-publisher")
@click.option("--id", "publisher_id", required=True, help="e.g. gov-cfa, pref-23, muni-23235")
@click.option("--name", default=None, help="Display name (required for a new publisher)")
@click.option("--kid", required=True, help="<publisher id>/<label>, e.g. gov-cfa/2026a")
@click.option("--public-key", "public_key", required=True, help="JWK JSON, or a file with it")
@click.option("--area", "areas", multiple=True, required=True, help="Area code; repeatable")
@click.option("--category", "categories", multiple=True, required=True, help="Repeatable")
@click.option("--not-before", default=None, help="RFC 3339 (default: now)")
@click.option("--not-after", default=None, help="RFC 3339 (default: not-before + valid-days)")
@click.option("--valid-days", type=int, default=None, help=f"default {DEFAULT_VALID_DAYS}")
def add_publisher(
    publisher_id: str,
    name: str | None,
    kid: str,
    public_key: str,
    areas: tuple[str, ...],
    categories: tuple[str, ...],
    not_before: str | None,
    not_after: str | None,
    valid_days: int | None,
) -> None:
    """Register a publisher's public key (adds the publisher if new)."""
    settings = load_settings()
    jwk = read_jwk(public_key)
    now = SystemClock().now()
    start = parse_time(not_before, "--not-before") or now
    end = parse_time(not_after, "--not-after")
    if end is not None and valid_days is not None:
        raise click.UsageError("--not-after と --valid-days は同時に指定できません / not both")
    if end is None:
        days = DEFAULT_VALID_DAYS if valid_days is None else valid_days
        if days < 1:
            raise click.BadParameter("--valid-days must be 1 or more")
        end = start + timedelta(days=days)

    async def work(session: AsyncSession) -> tuple[tuple[bool, Any], tuple[str, ...]]:
        added = await add_publisher_key(
            session,
            publisher_id=publisher_id,
            name=name,
            kid=kid,
            jwk=jwk,
            areas=list(areas),
            categories=list(categories),
            not_before=start,
            not_after=end,
            now=now,
        )
        return added, await publisher_warnings(session, publisher_id=publisher_id, now=now)

    (created, key), warnings = run_db(settings, work)
    if created:
        click.echo(f"発行者を登録しました / publisher added: {publisher_id} ({name})")
    click.echo(
        f"鍵を登録しました / key added: {key.kid}  "
        f"{key.not_before.isoformat()} – {key.not_after.isoformat()}  "
        f"area={','.join(key.areas)} category={','.join(key.categories)}"
    )
    for warning in warnings:
        click.echo(f"警告 / WARNING: {warning}", err=True)


@hub_group.command("list-publishers")
def list_publishers_command() -> None:
    """List registered publishers and their keys."""
    settings = load_settings()
    now = SystemClock().now()

    async def work(session: AsyncSession) -> Any:
        return await list_publishers(session, now=now)

    publishers = run_db(settings, work)
    if not publishers:
        click.echo("登録された発行者はありません / no publishers registered")
        return
    for publisher in publishers:
        click.echo(f"{publisher.id}  {publisher.name}")
        for key in publisher.keys:
            if key.revoked_at is not None:
                state = f"失効 revoked {key.revoked_at.isoformat()}"
            elif now < key.not_before:
                state = "有効期間前 not yet valid"
            elif now >= key.not_after:
                state = "期限切れ expired"
            else:
                state = "有効 valid"
            click.echo(
                f"  {key.kid}  {key.not_before.isoformat()} – {key.not_after.isoformat()}  "
                f"area={','.join(key.areas)} category={','.join(key.categories)}  [{state}]"
            )
        for warning in publisher.warnings:
            click.echo(f"  警告 / WARNING: {warning}")


@hub_group.command("revoke-key")
@click.option("--kid", required=True, help="The key to revoke, e.g. gov-cfa/2026a")
@click.option("--at", "at", default=None, help="RFC 3339, now or later (default: now)")
def revoke_key_command(kid: str, at: str | None) -> None:
    """Revoke a publisher key (鍵の失効). New notices under it are refused from --at on;
    notices received before stay valid (the publisher withdraws them with a Cancel)."""
    settings = load_settings()
    now = SystemClock().now()
    when = parse_time(at, "--at")

    async def work(session: AsyncSession) -> Any:
        return await revoke_key(session, kid=kid, at=when, now=now)

    revocation = run_db(settings, work)
    stamp = revocation.revoked_at.isoformat()
    if revocation.changed:
        click.echo(f"鍵を失効させました / key revoked: {kid} at {stamp}")
    else:
        click.echo(f"失効済みです (変更なし) / already revoked: {kid} at {stamp}")
    click.echo(
        "この時刻以降、この鍵の新しい通知は拒否されます (KEY_REVOKED)。それ以前に受理した通知は"
        "有効なままです / from then on the hub refuses new notices signed with it; notices it "
        "received before stay valid (the publisher can Cancel them with another key)"
    )


@hub_group.command("root-key")
def root_key() -> None:
    """Print the hub root public key as {"kid", "jwk"} (nodes pin it)."""
    settings = load_settings()
    try:
        identity = HubIdentity.load(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"kid": identity.root_kid, "jwk": identity.public_jwk()}))


def _register_subscriber_commands() -> None:
    """``add-subscriber`` & co. live in ``todoke.commands.hub_subscribers``."""
    from todoke.commands.hub_subscribers import SUBSCRIBER_COMMANDS

    for command in SUBSCRIBER_COMMANDS:
        hub_group.add_command(command)


_register_subscriber_commands()
