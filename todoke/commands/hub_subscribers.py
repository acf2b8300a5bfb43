"""``todoke hub add-subscriber | suspend-subscriber | resume-subscriber |
rotate-subscriber-credential | list-subscribers``: the municipal nodes allowed to read the feed.

Registered onto ``hub_group`` by ``todoke.commands.hub``. A credential is printed once, as JSON
``{"municipality", "credential"}``; the hub stores only its SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import SystemClock
from hub.subscribers.registry import (
    SubscriberError,
    SubscriberInfo,
    add_subscriber,
    list_subscribers,
    rotate_credential,
    set_node_key,
    set_suspended,
)

T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from todoke.commands.hub import load_settings, run_db

    async def guarded(session: AsyncSession) -> T:
        try:
            return await work(session)
        except SubscriberError as exc:
            raise click.ClickException(exc.message) from exc

    return run_db(load_settings(), guarded)


def _read_jwk(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    from todoke.commands.hub import read_jwk

    return read_jwk(value)


def _state(info: SubscriberInfo) -> str:
    if info.suspended_at is not None:
        return f"停止中 suspended {info.suspended_at.isoformat()}"
    return "有効 active"


@click.command("add-subscriber")
@click.option("--municipality", required=True, help="5-digit JIS X 0402 code, e.g. 23235")
@click.option("--name", required=True, help="e.g. 弥富市")
@click.option(
    "--node-public-key", default=None, help="The node's report key: JWK JSON, or a file with it"
)
def add_subscriber_command(municipality: str, name: str, node_public_key: str | None) -> None:
    """Register a municipal node; prints its feed credential ONCE (購読者の登録)."""
    jwk = _read_jwk(node_public_key)
    now = SystemClock().now()

    async def work(session: AsyncSession) -> Any:
        return await add_subscriber(
            session, municipality=municipality, name=name, node_jwk=jwk, now=now
        )

    registered = _run(work)
    click.echo(
        json.dumps(
            {
                "municipality": registered.subscriber.municipality,
                "credential": registered.credential,
            }
        )
    )


@click.command("rotate-subscriber-credential")
@click.option("--municipality", required=True)
def rotate_subscriber_credential(municipality: str) -> None:
    """Issue a new credential (the old one stops working); prints it ONCE."""

    async def work(session: AsyncSession) -> str:
        return await rotate_credential(session, municipality=municipality)

    credential = _run(work)
    click.echo(json.dumps({"municipality": municipality, "credential": credential}))


@click.command("set-subscriber-node-key")
@click.option("--municipality", required=True)
@click.option(
    "--node-public-key",
    required=True,
    help="The node's report key (todoke node report-key): JWK JSON, or a file with it",
)
def set_subscriber_node_key(municipality: str, node_public_key: str) -> None:
    """Register or replace a node's report signing key (報告署名鍵の登録・更新)."""
    jwk = _read_jwk(node_public_key)
    if jwk is None:
        raise click.UsageError("--node-public-key is required")

    async def work(session: AsyncSession) -> None:
        await set_node_key(session, municipality=municipality, node_jwk=jwk)

    _run(work)
    click.echo(f"{municipality}: 報告署名鍵を登録しました / report key registered")


def _suspension(name: str, *, suspended: bool, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.option("--municipality", required=True)
    def command(municipality: str) -> None:
        now = SystemClock().now()

        async def work(session: AsyncSession) -> SubscriberInfo:
            return await set_suspended(
                session, municipality=municipality, suspended=suspended, now=now
            )

        info = _run(work)
        click.echo(f"{info.municipality}  {info.name}  [{_state(info)}]")

    return command


@click.command("list-subscribers")
def list_subscribers_command() -> None:
    """List registered municipal nodes."""
    subscribers = _run(list_subscribers)
    if not subscribers:
        click.echo("登録された購読者はありません / no subscribers registered")
        return
    for info in subscribers:
        key = "report key: yes" if info.node_jwk is not None else "report key: none"
        click.echo(f"{info.municipality}  {info.name}  [{_state(info)}]  {key}")


SUBSCRIBER_COMMANDS: tuple[click.Command, ...] = (
    add_subscriber_command,
    rotate_subscriber_credential,
    set_subscriber_node_key,
    _suspension(
        "suspend-subscriber",
        suspended=True,
        help_text="Suspend a municipal node: its feed reads and live connections are refused.",
    ),
    _suspension(
        "resume-subscriber", suspended=False, help_text="Resume a suspended municipal node."
    ),
    list_subscribers_command,
)
