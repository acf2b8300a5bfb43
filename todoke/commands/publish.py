"""``todoke publish``: sign notices locally and submit them to a hub (お知らせの署名と送信)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.keys import load_private_key_pem
from hub.publishers.client import HubClientError, publish, sign_notice, submit_envelopes
from hub.publishers.schemas import PublishAccepted, PublishResult


def _read_notice(notice_file: Path) -> dict[str, Any]:
    try:
        notice = json.loads(notice_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"{notice_file}: JSON として読めません / not readable JSON: {exc}"
        ) from exc
    if not isinstance(notice, dict):
        raise click.ClickException(
            f"{notice_file}: JSON オブジェクトではありません / not a JSON object"
        )
    return notice


def _outcome(result: PublishResult) -> str:
    if isinstance(result, PublishAccepted):
        label = (
            "受理済み (重複送信) / already accepted"
            if result.duplicate
            else "受理されました / accepted"
        )
        return f"{label}: seq={result.seq} digest={result.digest}"
    return f"拒否されました / rejected: {result.code.value}: {result.message}"


@click.command("publish")
@click.argument(
    "notice_files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--kid", required=True, help="The key id registered at the hub, e.g. gov-cfa/2026a")
@click.option("--hub", "hub_url", required=True, help="Hub base URL, e.g. http://127.0.0.1:8080")
@click.option(
    "--envelope-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the signed envelope here (one notice file only)",
)
def publish_command(
    notice_files: tuple[Path, ...],
    key_file: Path,
    kid: str,
    hub_url: str,
    envelope_out: Path | None,
) -> None:
    """Sign NOTICE_FILES locally and submit them to the hub (お知らせの署名と送信).

    Several files go in bulk requests, in the order given (an Update may follow its Alert);
    nothing is sent unless every file reads and signs."""
    if envelope_out is not None and len(notice_files) > 1:
        raise click.UsageError(
            "--envelope-out は通知ファイルが 1 件のときだけ使えます / "
            "--envelope-out takes one notice file"
        )
    notices = [_read_notice(path) for path in notice_files]
    try:
        private_key = load_private_key_pem(key_file.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise click.ClickException(
            f"{key_file}: Ed25519 の秘密鍵ではありません / not an Ed25519 private key"
        ) from exc
    if len(notices) > 1:
        _publish_many(notice_files, notices, kid=kid, private_key=private_key, hub_url=hub_url)
        return
    try:
        envelope, result = asyncio.run(
            publish(notices[0], kid=kid, private_key=private_key, hub_url=hub_url)
        )
    except ValueError as exc:
        raise click.ClickException(f"署名できません / cannot sign: {exc}") from exc
    except HubClientError as exc:
        raise click.ClickException(f"送信できません / {exc}") from exc
    if envelope_out is not None:
        envelope_out.write_text(json.dumps(envelope.model_dump()) + "\n", encoding="utf-8")
    if isinstance(result, PublishAccepted):
        click.echo(_outcome(result))
        return
    raise click.ClickException(_outcome(result))


def _publish_many(
    paths: tuple[Path, ...],
    notices: list[dict[str, Any]],
    *,
    kid: str,
    private_key: Ed25519PrivateKey,
    hub_url: str,
) -> None:
    envelopes = []
    for path, notice in zip(paths, notices, strict=True):
        try:
            envelopes.append(sign_notice(notice, kid=kid, private_key=private_key))
        except ValueError as exc:
            raise click.ClickException(f"{path}: 署名できません / cannot sign: {exc}") from exc
    try:
        results = asyncio.run(submit_envelopes(envelopes, hub_url=hub_url))
    except HubClientError as exc:
        raise click.ClickException(f"送信できません / {exc}") from exc
    for path, result in zip(paths, results, strict=True):
        click.echo(f"{path}: {_outcome(result)}")
    refused = sum(1 for result in results if not isinstance(result, PublishAccepted))
    if refused:
        raise click.ClickException(
            f"{len(results)} 件中 {refused} 件が拒否されました / {refused} of {len(results)} refused"
        )
