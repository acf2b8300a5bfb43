"""``todoke keys``: Ed25519 signing keys for publishers, hub root and node tenants."""

from __future__ import annotations

import json
import os
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from contracts.ids import KID_RE, PUBLISHER_ID_RE, publisher_of_kid
from contracts.keys import (
    b64url_decode,
    generate_private_key,
    load_private_key_pem,
    private_key_to_pem,
    public_jwk,
)


@click.group("keys")
def keys_group() -> None:
    """Create and inspect Ed25519 signing keys (鍵の作成と確認)."""


def write_private_key(path: Path, *, force: bool = False) -> dict[str, str]:
    """Write a new private key (PEM, mode 0600) to ``path``; return its public JWK."""
    if path.exists() and not force:
        raise click.ClickException(
            f"{path} は既に存在します / already exists (use --force to replace it)"
        )
    key = generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_to_pem(key))
    return public_jwk(key)


@keys_group.command("new")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the private key (PEM, mode 0600). Keep it; it never leaves you.",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def new_key(out: Path, force: bool) -> None:
    """Write a new private key and print its public JWK (give that to the hub)."""
    jwk = write_private_key(out, force=force)
    click.echo(json.dumps(jwk, ensure_ascii=False))


@keys_group.command("public")
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A private key file written by `todoke keys new`.",
)
def public_key(key_path: Path) -> None:
    """Print the public JWK of a private key file."""
    try:
        key = load_private_key_pem(key_path.read_bytes())
    except ValueError as exc:
        raise click.ClickException(
            f"{key_path}: Ed25519 の秘密鍵ではありません / not an Ed25519 private key ({exc})"
        ) from exc
    click.echo(json.dumps(public_jwk(key), ensure_ascii=False))


ROTATION_LEAD_DAYS = 30  # CONTRACT §4: register the new key ≥ 30 days before the old one ends
MAX_VALID_DAYS = 400  # CONTRACT §4: not_after − not_before ≤ 400 days
DEFAULT_VALID_DAYS = 365


def _parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an RFC 3339 time: {value}", param_hint=option) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(
            "時差 (例 +09:00) が必要です / needs an offset, e.g. 2026-04-01T00:00:00+09:00",
            param_hint=option,
        )
    return parsed.astimezone(UTC)


def _published_key(hub_url: str, kid: str) -> dict[str, Any]:
    """The old key's entry in the hub's public key set (read only to prefill the scope; the
    hub operator registers what the publisher sends, and nodes verify the signed key set)."""
    url = hub_url.rstrip("/")
    url = url if url.endswith("/graphql") else f"{url}/graphql"
    try:
        response = httpx.post(url, json={"query": "{ keySet { payload } }"}, timeout=30.0)
        payload = response.json()["data"]["keySet"]["payload"]
        keyset = json.loads(b64url_decode(payload))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(
            f"ハブの鍵セットを読めません / cannot read the key set of {hub_url}: {exc}"
        ) from exc
    for entry in keyset.get("keys", []):
        if isinstance(entry, dict) and entry.get("kid") == kid:
            return entry
    raise click.ClickException(
        f"{kid} はハブの鍵セットにありません / {kid} is not in the hub's key set"
    )


@keys_group.command("rotate")
@click.option("--publisher", required=True, help="e.g. gov-cfa")
@click.option("--old-kid", required=True, help="The key being replaced, e.g. gov-cfa/2026a")
@click.option("--new-kid", required=True, help="The new key id, e.g. gov-cfa/2027a")
@click.option(
    "--key-out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new private key (PEM, mode 0600).",
)
@click.option("--not-before", default=None, help="RFC 3339 (default: now)")
@click.option(
    "--valid-days",
    type=click.IntRange(1, MAX_VALID_DAYS),
    default=DEFAULT_VALID_DAYS,
    show_default=True,
)
@click.option("--area", "areas", multiple=True, help="Scope of the new key (repeatable)")
@click.option("--category", "categories", multiple=True, help="Scope (repeatable)")
@click.option(
    "--hub", "hub_url", default=None, help="Hub URL: copy the old key's scope from its key set"
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--force", is_flag=True, help="Replace an existing --key-out file.")
def rotate(
    publisher: str,
    old_kid: str,
    new_kid: str,
    key_out: Path,
    not_before: str | None,
    valid_days: int,
    areas: tuple[str, ...],
    categories: tuple[str, ...],
    hub_url: str | None,
    as_json: bool,
    force: bool,
) -> None:
    """Create the successor of a publisher key and print how to register it (鍵の更新).

    The new private key is written locally and never leaves you; the hub operator registers
    its public key. Both keys verify during the overlap, so nothing in flight breaks.
    """
    if PUBLISHER_ID_RE.fullmatch(publisher) is None:
        raise click.BadParameter(f"bad publisher id {publisher!r}", param_hint="--publisher")
    for option, kid in (("--old-kid", old_kid), ("--new-kid", new_kid)):
        if KID_RE.fullmatch(kid) is None or publisher_of_kid(kid) != publisher:
            raise click.BadParameter(
                f"{kid!r} は {publisher}/<label> の形式ではありません / must be {publisher}/<label>",
                param_hint=option,
            )
    if old_kid == new_kid:
        raise click.BadParameter("新旧の鍵IDが同じです / must differ", param_hint="--new-kid")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now if not_before is None else _parse_time(not_before, "--not-before")
    end = start + timedelta(days=valid_days)
    warnings: list[str] = []
    if hub_url is not None:
        old = _published_key(hub_url, old_kid)
        scope = old.get("scope") or {}
        areas = areas or tuple(str(a) for a in scope.get("area", []))
        categories = categories or tuple(str(c) for c in scope.get("category", []))
        old_end = _parse_time(str(old.get("not_after")), "old key not_after")
        if old_end - now < timedelta(days=ROTATION_LEAD_DAYS):
            warnings.append(
                f"旧鍵 {old_kid} の期限 {old_end.isoformat()} まで 30 日未満です。至急登録してください / "
                f"{old_kid} expires at {old_end.isoformat()}, less than 30 days from now "
                "(CONTRACT §4): have the new key registered today"
            )
        if start > old_end:
            warnings.append(
                f"新しい鍵の開始 {start.isoformat()} が旧鍵の期限より後です (空白期間) / the new key "
                f"starts after {old_kid} ends: no key would be valid in between"
            )
        if end <= old_end:
            warnings.append(
                f"新しい鍵の期限が旧鍵より前です / the new key ends before {old_kid}: not a successor"
            )
    if not areas or not categories:
        raise click.UsageError(
            "新しい鍵の対象地域と分類を --area/--category で指定するか、--hub で旧鍵から写してください / "
            "give the new key's scope with --area and --category, or --hub to copy the old key's"
        )
    jwk = write_private_key(key_out, force=force)
    command = [
        "todoke", "hub", "add-publisher",
        "--id", publisher,
        "--kid", new_kid,
        "--public-key", json.dumps(jwk, separators=(",", ":")),
        *(arg for area in areas for arg in ("--area", area)),
        *(arg for category in categories for arg in ("--category", category)),
        "--not-before", start.isoformat(),
        "--not-after", end.isoformat(),
    ]  # fmt: skip
    if as_json:
        result = {
            "publisher": publisher,
            "old_kid": old_kid,
            "kid": new_kid,
            "jwk": jwk,
            "key_file": str(key_out),
            "not_before": start.isoformat(),
            "not_after": end.isoformat(),
            "register_command": command,
            "warnings": warnings,
        }
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(
            f"新しい秘密鍵を書き出しました / new private key written: {key_out} "
            "(0600; 外部に渡さないこと / it never leaves you)\n"
            f"kid: {new_kid}\npublic JWK: {json.dumps(jwk)}\n"
            f"有効期間 / validity: {start.isoformat()} – {end.isoformat()}\n\n"
            "1. 県ハブの運用者に次を実行してもらう (旧鍵の期限の 30 日以上前に) / have the hub "
            "operator run (at least 30 days before the old key ends):\n"
            f"   {shlex.join(command)}\n"
            "2. 登録と開始時刻の後、新しい鍵で署名する / once registered and not_before has "
            f"passed, sign with the new key:\n   todoke publish NOTICE.json --key {key_out} "
            f"--kid {new_kid} --hub HUB_URL\n"
            f"3. 旧鍵 {old_kid} は期限まで有効 (重複期間)。使い終えたら秘密鍵を破棄する。漏えい時のみ"
            f"失効させる / {old_kid} keeps verifying until its not_after (overlap); destroy its "
            "private key when done. Only if it leaked:\n"
            f"   todoke hub revoke-key --kid {old_kid}"
        )
    for warning in warnings:
        click.echo(f"警告 / WARNING: {warning}", err=True)
