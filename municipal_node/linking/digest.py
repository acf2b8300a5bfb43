"""Keyed lookup digests of registration codes (HMAC-SHA256, key from the node key by HKDF).

``CodeLookup(keys)``: ``keys[0]`` is the node key in use, the rest earlier keys still
configured during a rotation (newest first). New codes are digested with the current key;
a code a resident sends is looked up under every key, so codes issued before a rotation keep
working while their key stays configured (see ``municipal_node/linking/__init__.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from municipal_node.settings import NodeSettings

INFO = b"todoke/registration-code-lookup/v1"


def derive_lookup_key(node_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(node_key)


class CodeLookup:
    def __init__(self, node_keys: Sequence[bytes]) -> None:
        if not node_keys:
            raise ValueError("CodeLookup needs the node key")
        self._keys = tuple(derive_lookup_key(key) for key in node_keys)

    def digest(self, tenant_code: str, code: str) -> bytes:
        """The digest a new code is stored under (current key)."""
        return self._mac(self._keys[0], tenant_code, code)

    def candidates(self, tenant_code: str, code: str) -> list[bytes]:
        """Digests to look a received code up by: one per configured key."""
        return [self._mac(key, tenant_code, code) for key in self._keys]

    @staticmethod
    def _mac(key: bytes, tenant_code: str, code: str) -> bytes:
        return hmac.new(key, f"{tenant_code}:{code}".encode(), hashlib.sha256).digest()


def nonce_digest(nonce: str) -> str:
    """Account-link nonces are stored as their SHA-256 only (they are random, 256 bits)."""
    return hashlib.sha256(nonce.encode("ascii", errors="replace")).hexdigest()


def node_lookup(settings: NodeSettings) -> CodeLookup:
    """The node's ``CodeLookup`` (when key rotation keeps earlier keys configured, they go
    here after the current one)."""
    return CodeLookup([settings.key_bytes(), *settings.previous_key_bytes()])
