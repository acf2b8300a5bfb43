"""``todoke keys``: the private key stays in its file; the printed JWK is its public half."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from contracts.jws import sign
from contracts.keys import load_private_key_pem, public_key_from_jwk
from contracts.verify import check_signature
from todoke.cli import main


def test_keys_new_writes_a_private_key_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "gov-cfa.pem"
    result = CliRunner().invoke(main, ["keys", "new", "--out", str(path)])
    assert result.exit_code == 0, result.output
    jwk = json.loads(result.output)
    assert set(jwk) == {"kty", "crv", "x"} and (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in path.read_text()
    assert "PRIVATE" not in result.output


def test_the_printed_jwk_verifies_what_the_private_key_signs(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    jwk = json.loads(CliRunner().invoke(main, ["keys", "new", "--out", str(path)]).output)
    envelope = sign(
        {"hello": "届け"},
        typ="todoke-notice+jws",
        kid="gov-cfa/a",
        private_key=load_private_key_pem(path.read_bytes()),
    )
    check_signature(envelope, public_key_from_jwk(jwk))
    again = CliRunner().invoke(main, ["keys", "public", "--key", str(path)])
    assert json.loads(again.output) == jwk


def test_keys_new_refuses_to_overwrite_a_key_without_force(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    CliRunner().invoke(main, ["keys", "new", "--out", str(path)])
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["keys", "new", "--out", str(path)])
    assert result.exit_code == 1
    assert "既に存在します" in result.output
    assert path.read_bytes() == before


def test_keys_public_explains_a_file_that_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_text("not a key")
    result = CliRunner().invoke(main, ["keys", "public", "--key", str(path)])
    assert result.exit_code == 1
    assert "Ed25519 の秘密鍵ではありません" in result.output
