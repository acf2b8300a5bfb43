"""``todoke keys``: Ed25519 signing keys for publishers, hub root and node tenants."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from contracts.keys import (
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
