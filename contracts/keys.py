"""Ed25519 keys (RFC 8032) and their public JWK form (RFC 8037): pure, no I/O."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.errors import ContractError, RejectionCode

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The bits of the last character that carry no data, by ``len(text) % 4`` (2: 4 bits, 3: 2 bits).
_UNUSED_BITS = {2: 0x0F, 3: 0x03}


def b64url_encode(data: bytes) -> str:
    """BASE64URL without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of ``b64url_encode``: ``ValueError`` for padding, other alphabets, bad length
    or non-zero trailing bits (so one byte string has exactly one accepted encoding)."""
    if not isinstance(text, str) or _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not unpadded base64url") from exc
    unused = _UNUSED_BITS.get(len(text) % 4, 0)
    if unused and _B64URL_ALPHABET.index(text[-1]) & unused:  # encoding ``data`` would differ
        raise ValueError("non-canonical base64url (trailing bits set)")
    return data


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key for a fixed 32-byte seed (test vectors, tests)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is exactly 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (the caller protects the file)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key; ``ValueError`` for anything else."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> dict[str, str]:
    """``{"kty":"OKP","crv":"Ed25519","x":<base64url raw public key>}``."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key_bytes(key))}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The public key of an OKP/Ed25519 JWK with exactly ``kty``, ``crv`` and ``x``.

    Raises ``ContractError(BAD_ENVELOPE)`` for anything else (private members such as ``d``
    included: a key set never carries private keys).
    """
    if not isinstance(jwk, Mapping) or set(jwk) != {"kty", "crv", "x"}:
        raise ContractError(RejectionCode.BAD_ENVELOPE, "JWK must have exactly kty, crv, x")
    if jwk["kty"] != "OKP" or jwk["crv"] != "Ed25519":
        raise ContractError(RejectionCode.BAD_ENVELOPE, "JWK is not OKP/Ed25519")
    try:
        raw = b64url_decode(jwk["x"])
    except ValueError as exc:
        raise ContractError(RejectionCode.BAD_ENVELOPE, "JWK x is not base64url") from exc
    if len(raw) != 32:
        raise ContractError(RejectionCode.BAD_ENVELOPE, "JWK x is not 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)
