"""``Sealer`` as a keyring: seal with the current key, open with any configured key."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from municipal_node.crypto import DecryptionError, Sealer, UnknownKeyError, key_id
from municipal_node.settings import NodeSettings

OLD, NEW, OTHER = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))


def v1_blob(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def test_a_new_blob_names_the_current_key() -> None:
    blob = Sealer(NEW, [OLD]).seal(b"x", aad=b"a")
    assert blob[:1] == b"\x02"
    assert Sealer.blob_key_id(blob) == key_id(NEW) == blob[1:5].hex()
    assert Sealer(NEW).is_current(blob) and not Sealer(OLD, [NEW]).is_current(blob)


def test_a_blob_of_a_previous_key_opens_while_that_key_is_configured() -> None:
    blob = Sealer(OLD).seal(b"secret", aad=b"a")
    assert Sealer(NEW, [OLD]).open(blob, aad=b"a") == b"secret"
    with pytest.raises(UnknownKeyError) as caught:
        Sealer(NEW).open(blob, aad=b"a")
    assert caught.value.key_id == key_id(OLD)
    assert f"鍵 ID {key_id(OLD)}" in str(caught.value)
    assert "TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS" in str(caught.value)


def test_version_1_blobs_open_with_the_current_or_a_previous_key() -> None:
    blob = v1_blob(OLD, b"legacy", b"a")
    assert Sealer(OLD).open(blob, aad=b"a") == b"legacy"
    assert Sealer(NEW, [OTHER, OLD]).open(blob, aad=b"a") == b"legacy"
    assert not Sealer(OLD).is_current(blob)
    with pytest.raises(DecryptionError, match=key_id(NEW)):
        Sealer(NEW).open(blob, aad=b"a")
    with pytest.raises(DecryptionError):
        Sealer(OLD).open(blob, aad=b"other row")


def test_a_blob_moved_to_another_row_does_not_open() -> None:
    blob = Sealer(NEW).seal(b"x", aad=b"row 1")
    with pytest.raises(DecryptionError, match="authentication failed"):
        Sealer(NEW).open(blob, aad=b"row 2")


def test_the_row_digest_is_keyed() -> None:
    assert Sealer(NEW).digest(b"R1") == Sealer(NEW, [OLD]).digest(b"R1")
    assert Sealer(NEW).digest(b"R1") != Sealer(OLD).digest(b"R1")
    assert len(Sealer(NEW).digest(b"R1")) == 32


def test_settings_build_the_keyring_from_the_previous_keys() -> None:
    b64 = [base64.b64encode(key).decode() for key in (NEW, OLD, OTHER)]
    settings = NodeSettings(encryption_key=b64[0], previous_encryption_keys=f"{b64[1]}, {b64[2]}")
    assert settings.sealer().key_ids == (key_id(NEW), key_id(OLD), key_id(OTHER))
    with pytest.raises(ValueError, match="previous_encryption_keys"):
        NodeSettings(encryption_key=b64[0], previous_encryption_keys=f"{b64[1]},AAAA")
