"""``todoke node add-staff | list-staff | set-staff-role | disable-staff | enable-staff |
reset-staff-password | remove-staff``: staff accounts (職員アカウント) from the command line.

The CLI acts as the node operator (actor ``cli``, admin on every tenant)."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import todoke.commands.node as node_cli
from municipal_node.api.auth import ALL_ROLES, Principal
from municipal_node.crypto import Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.settings import NodeSettings
from municipal_node.staff import service
from municipal_node.staff.errors import StaffError
from municipal_node.staff.passwords import check_password, check_username, hasher_for

CLI = Principal(actor="cli", staff_id=None, roles=None)
ROLE_CHOICE = click.Choice([str(role) for role in ALL_ROLES], case_sensitive=False)
ROLE_LABELS = {"admin": "管理者", "editor": "編集者", "approver": "承認者", "viewer": "閲覧者"}

_tenant = click.option("--tenant", "tenant_code", required=True, help="5-digit municipality code")
_username = click.option("--username", required=True, help="3–32 of a-z 0-9 . _ -")
_role = click.option("--role", required=True, type=ROLE_CHOICE, help="admin|editor|approver|viewer")
_password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (else a hidden prompt).",
)


def _run(settings: NodeSettings, work: Any) -> Any:
    try:
        return node_cli.run_db(settings, work)
    except StaffError as exc:
        raise click.ClickException(exc.message) from exc


def _read_password(from_stdin: bool, username: str) -> str:
    """Read and check the password before anything touches the database."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "パスワード / password",
            hide_input=True,
            confirmation_prompt="パスワード（確認） / repeat password",
        )
    try:
        check_password(password, username=username)
    except StaffError as exc:
        raise click.ClickException(exc.message) from exc
    return password


def _checked_username(value: str) -> str:
    try:
        return check_username(value)
    except StaffError as exc:
        raise click.BadParameter(exc.message, param_hint="--username") from exc


@click.command("add-staff")
@_tenant
@_username
@_role
@click.option("--display-name", default=None, help="表示名 (日本語可); default: the username")
@_password_stdin
def add_staff(
    tenant_code: str, username: str, role: str, display_name: str | None, password_stdin: bool
) -> None:
    """Create a staff account with a role on a tenant (職員の追加)."""
    settings = node_cli.load_settings()
    name = _checked_username(username)
    password = _read_password(password_stdin, name)

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with unit_of_work(sessions) as session:
            return await service.create_staff(
                session,
                hasher=hasher_for(settings),
                tenant_code=tenant_code,
                username=name,
                display_name=display_name if display_name is not None else name,
                password=password,
                role=role,
                by=CLI,
                now=node_cli.cli_now(),
            )

    view = _run(settings, work)
    click.echo(f"職員を追加しました / staff added: {view.username} ({view.role}) @ {tenant_code}")


@click.command("list-staff")
@_tenant
def list_staff(tenant_code: str) -> None:
    """List the staff holding a role on a tenant (職員一覧)."""
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with sessions() as session:
            return await service.list_staff(session, tenant_code=tenant_code)

    views = _run(settings, work)
    if not views:
        click.echo("職員はいません / no staff")
        return
    now = node_cli.cli_now()
    rows = [
        [
            view.username,
            view.display_name,
            f"{view.role} {ROLE_LABELS.get(view.role, '')}",
            "有効 active" if view.active else "無効 disabled",
            "ロック中 locked" if view.locked_until is not None and view.locked_until > now else "-",
        ]
        for view in views
    ]
    click.echo(node_cli._table(["ユーザー名", "表示名", "権限", "状態", "ロック"], rows))


@click.command("set-staff-role")
@_tenant
@_username
@_role
def set_staff_role(tenant_code: str, username: str, role: str) -> None:
    """Set an existing account's role on a tenant, adding it there if needed (権限の設定)."""
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with unit_of_work(sessions) as session:
            return await service.assign_role(
                session,
                tenant_code=tenant_code,
                username=username,
                role=role,
                by=CLI,
                now=node_cli.cli_now(),
            )

    view = _run(settings, work)
    click.echo(f"権限を設定しました / role set: {view.username} = {view.role} @ {tenant_code}")
    if not view.active:
        click.echo(
            "注意: このアカウントは無効です。`todoke node enable-staff` で有効にするまでログイン"
            "できません / note: the account is disabled; `todoke node enable-staff` re-enables it",
            err=True,
        )


def _set_active(username: str, active: bool) -> bool:
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> Any:
        async with unit_of_work(sessions) as session:
            return await service.set_account_active(
                session, username=username, active=active, by=CLI, now=node_cli.cli_now()
            )

    return bool(_run(settings, work))


@click.command("disable-staff")
@_username
def disable_staff(username: str) -> None:
    """Disable an account on every tenant and end its sessions (アカウントの無効化)."""
    if _set_active(username, False):
        click.echo(f"無効にしました / disabled: {username}")
    else:
        click.echo(f"既に無効です / already disabled: {username}")


@click.command("enable-staff")
@_username
def enable_staff(username: str) -> None:
    """Re-enable an account and lift a sign-in lock (アカウントの有効化・ロック解除)."""
    if _set_active(username, True):
        click.echo(f"有効にしました / enabled: {username}")
    else:
        click.echo(f"既に有効です / already enabled: {username}")


@click.command("reset-staff-password")
@_tenant
@_username
@_password_stdin
def reset_staff_password(tenant_code: str, username: str, password_stdin: bool) -> None:
    """Set a new password for a staff member of a tenant; their sessions end (パスワード再設定)."""
    settings = node_cli.load_settings()
    name = _checked_username(username)
    password = _read_password(password_stdin, name)

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        async with unit_of_work(sessions) as session:
            await service.reset_password(
                session,
                hasher=hasher_for(settings),
                tenant_code=tenant_code,
                username=name,
                password=password,
                by=CLI,
                now=node_cli.cli_now(),
            )

    _run(settings, work)
    click.echo(f"パスワードを再設定しました / password reset: {name}")


@click.command("remove-staff")
@_tenant
@_username
def remove_staff(tenant_code: str, username: str) -> None:
    """Remove a staff member's role on a tenant (an account with no role left is disabled)."""
    settings = node_cli.load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession], sealer: Sealer) -> None:
        async with unit_of_work(sessions) as session:
            await service.remove_from_tenant(
                session, tenant_code=tenant_code, username=username, by=CLI, now=node_cli.cli_now()
            )

    _run(settings, work)
    click.echo(f"この自治体から外しました / removed from {tenant_code}: {username}")
