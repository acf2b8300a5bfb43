from __future__ import annotations

import pytest

from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.settings import NodeSettings

KEY = bytes(range(32))


def test_a_sealed_value_opens_only_with_the_same_associated_data() -> None:
    sealer = Sealer(KEY)
    blob = sealer.seal_text("ひとり親", aad="resident:23235:R1")
    assert sealer.open_text(blob, aad="resident:23235:R1") == "ひとり親"
    with pytest.raises(DecryptionError):
        sealer.open_text(blob, aad="resident:23235:R2")


def test_sealing_twice_uses_a_fresh_nonce() -> None:
    sealer = Sealer(KEY)
    assert sealer.seal_text("x", aad="a")[1:13] != sealer.seal_text("x", aad="a")[1:13]


def test_another_key_cannot_open_a_blob() -> None:
    blob = Sealer(KEY).seal_text("x", aad="a")
    with pytest.raises(DecryptionError):
        Sealer(bytes(32)).open_text(blob, aad="a")


def test_settings_refuse_a_key_that_is_not_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        NodeSettings(encryption_key="c2hvcnQ=")
