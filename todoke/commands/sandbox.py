"""``todoke sandbox``: run the LINE Messaging API sandbox (a stand-in for api.line.me)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from line_sandbox.app import create_app
from line_sandbox.settings import SandboxSettings
from todoke.serving import serve_app


@click.group("sandbox")
def sandbox_group() -> None:
    """LINE sandbox (LINE Messaging API の模擬サーバー)."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8090, show_default=True, type=int, help="Port (0 = a free port).")
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Write {"url","pid"} JSON here once listening.',
)
@click.option("--channel-name", default=None, help="Create this channel at start.")
@click.option("--channel-secret", default=None, help="Its channel secret (signs webhooks).")
@click.option("--channel-token", default=None, help="Its channel access token (Bearer).")
@click.option("--webhook-url", default=None, help="Where its webhooks go (the node).")
@click.option("--friends", type=int, default=None, help="Create N simulated friends at start.")
@click.option(
    "--bench",
    is_flag=True,
    default=None,
    help="Start channel in bench mode (ids from the index, counters only, no inbox).",
)
@click.option("--log-level", default="warning", show_default=True)
def serve_command(
    host: str,
    port: int,
    ready_file: Path | None,
    channel_name: str | None,
    channel_secret: str | None,
    channel_token: str | None,
    webhook_url: str | None,
    friends: int | None,
    bench: bool | None,
    log_level: str,
) -> None:
    """Serve the LINE API (/v2/...), the admin API (/sandbox/...) and chat pages (/sandbox/chat).

    Settings come from TODOKE_SANDBOX_* variables; the options above override them.
    """
    overrides: dict[str, Any] = {
        "channel_name": channel_name,
        "channel_secret": channel_secret,
        "channel_access_token": channel_token,
        "webhook_url": webhook_url,
        "friends": friends,
        "channel_bench": bench,
    }
    try:
        settings = SandboxSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(f"設定が不正です / invalid settings: {exc}") from exc
    serve_app(
        create_app(settings), host=host, port=port, ready_file=ready_file, log_level=log_level
    )
