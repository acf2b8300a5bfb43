"""AES-256-GCM for data at rest (resident attributes, LINE channel secrets, …), with a keyring.

Blob layouts:

- version 2 (written now): ``0x02 || key id (4 bytes) || nonce (12 bytes) || ciphertext+tag``.
  The key id names the key that sealed the blob, so opening picks it without trial.
- version 1 (written before key rotation existed): ``0x01 || nonce || ciphertext+tag``. It was
  sealed with what was then the only key: opening tries the current key, then each previous one.

A key id is the first 4 bytes of SHA-256 over a fixed label and the key, shown as 8 hex digits
(``Sealer.key_id``); it identifies a key without revealing it. The associated data binds a blob
to its row (e.g. tenant + resident id), so a blob copied to another row does not decrypt.

Rotation: configure the new key as the current one and the old one under
``TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS``; everything keeps opening; ``todoke node rotate-key``
re-seals every registered column under the current key (``municipal_node.privacy``); then the
old key can be dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

V1 = b"\x01"
V2 = b"\x02"
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_ID_LABEL = b"todoke.node.key-id/v1"
_DIGEST_LABEL = b"todoke.node.row-digest/v1"


def key_id(key: bytes) -> str:
    """The 8-hex-digit id of a key (what blobs and messages name)."""
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:KEY_ID_BYTES].hex()


class DecryptionError(Exception):
    """A blob could not be opened (wrong key, wrong row, or tampering)."""


class UnknownKeyError(DecryptionError):
    """A blob was sealed under a key this node does not hold (any more)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"鍵 ID {key_id} の暗号鍵が設定されていません（TODOKE_NODE_ENCRYPTION_KEY または "
            f"TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS に追加してください） / sealed under key id "
            f"{key_id}, which is not configured (add it to TODOKE_NODE_ENCRYPTION_KEY or "
            "TODOKE_NODE_PREVIOUS_ENCRYPTION_KEYS)"
        )
        self.key_id = key_id


class Sealer:
    """Seal with the current key; open with the current or any previous key."""

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        for candidate in (key, *previous):
            if len(candidate) != 32:
                raise ValueError("AES-256-GCM needs a 32-byte key")
        self._key_id = key_id(key)
        self._current = AESGCM(key)
        self._by_id: dict[bytes, AESGCM] = {bytes.fromhex(self._key_id): self._current}
        self._previous: list[AESGCM] = []
        for old in previous:
            if old == key:
                continue
            old_id = bytes.fromhex(key_id(old))
            if old_id in self._by_id:
                raise ValueError(f"two different keys share the key id {old_id.hex()}")
            aead = AESGCM(old)
            self._by_id[old_id] = aead
            self._previous.append(aead)
        self._prefix = V2 + bytes.fromhex(self._key_id)
        self._digest_key = hmac.new(key, _DIGEST_LABEL, hashlib.sha256).digest()

    @property
    def key_id(self) -> str:
        """Id of the current key (new blobs carry it)."""
        return self._key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every key this sealer can open with, the current one first."""
        return tuple(kid.hex() for kid in self._by_id)

    @property
    def current_prefix(self) -> bytes:
        """The first bytes of every blob sealed now (version + current key id)."""
        return self._prefix

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return self._prefix + nonce + self._current.encrypt(nonce, plaintext, aad)

    def is_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is already sealed under the current key (rotation skips it)."""
        return bytes(blob[: len(self._prefix)]) == self._prefix

    @staticmethod
    def blob_key_id(blob: bytes) -> str | None:
        """The key id a version-2 blob names; None for version 1 (no id recorded)."""
        if blob[:1] == V2 and len(blob) > 1 + KEY_ID_BYTES:
            return bytes(blob[1 : 1 + KEY_ID_BYTES]).hex()
        return None

    def open(self, blob: bytes, *, aad: bytes) -> bytes:
        blob = bytes(blob)
        version = blob[:1]
        if version == V2 and len(blob) >= 1 + KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES:
            kid = blob[1 : 1 + KEY_ID_BYTES]
            aead = self._by_id.get(kid)
            if aead is None:
                raise UnknownKeyError(kid.hex())
            body = blob[1 + KEY_ID_BYTES :]
            return self._decrypt(aead, body, aad)
        if version == V1 and len(blob) >= 1 + NONCE_BYTES + TAG_BYTES:
            for aead in (self._current, *self._previous):
                try:
                    return self._decrypt(aead, blob[1:], aad)
                except DecryptionError:
                    continue
            raise DecryptionError(
                "暗号化データを設定中のどの鍵でも開けません / a version-1 blob opens with none "
                f"of the configured keys ({', '.join(self.key_ids)}), or it belongs to another row"
            )
        raise DecryptionError("not a sealed blob of a known version")

    @staticmethod
    def _decrypt(aead: AESGCM, body: bytes, aad: bytes) -> bytes:
        nonce = body[:NONCE_BYTES]
        try:
            return aead.decrypt(nonce, body[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise DecryptionError("authentication failed") from exc

    def seal_text(self, text: str, *, aad: str) -> bytes:
        return self.seal(text.encode("utf-8"), aad=aad.encode("utf-8"))

    def open_text(self, blob: bytes, *, aad: str) -> str:
        return self.open(blob, aad=aad.encode("utf-8")).decode("utf-8")

    def digest(self, data: bytes) -> str:
        """Keyed digest (HMAC-SHA-256, 128 bits, hex) of row content: lets an import see that a
        row is unchanged without storing anything that would reveal the content. Keyed by the
        current key, so rotation changes every digest (``rotate-key`` clears them)."""
        return hmac.digest(self._digest_key, data, "sha256")[:16].hex()
