"""AES-256-GCM for data at rest (resident attributes, LINE channel secrets).

Blob layout: ``0x01 || nonce (12 bytes, random per value) || ciphertext+tag``. The associated
data binds a blob to its row (e.g. tenant + resident id), so a blob copied to another row
does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A blob could not be opened (wrong key, wrong row, or tampering)."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, *, aad: bytes) -> bytes:
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise DecryptionError("not a sealed blob of a known version")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[1 + _NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise DecryptionError("authentication failed") from exc

    def seal_text(self, text: str, *, aad: str) -> bytes:
        return self.seal(text.encode("utf-8"), aad=aad.encode("utf-8"))

    def open_text(self, blob: bytes, *, aad: str) -> str:
        return self.open(blob, aad=aad.encode("utf-8")).decode("utf-8")
