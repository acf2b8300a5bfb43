"""JWS (RFC 7515, flattened JSON serialization) over RFC 8785 payloads, signed with Ed25519.

``sign`` builds an envelope; ``open_envelope`` (or ``decode_header``), ``decode_payload`` and
``check_signature`` are the envelope-level steps a verifier runs (CONTRACT §3 steps 1 and 4);
``contracts.verify`` puts them in order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from contracts.canonical import canonicalize
from contracts.errors import ContractError, RejectionCode
from contracts.ids import HUB_KID_RE, KID_RE
from contracts.keys import b64url_decode, b64url_encode

TYP_NOTICE = "todoke-notice+jws"
TYP_KEYSET = "todoke-keyset+jws"
TYP_RECEIPT = "todoke-receipt+jws"
TYP_REPORT = "todoke-report+jws"
TYPS = frozenset({TYP_NOTICE, TYP_KEYSET, TYP_RECEIPT, TYP_REPORT})
ALG = "Ed25519"
MAX_ENVELOPE_BYTES = 65536

_B64URL = r"^[A-Za-z0-9_-]*$"
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
# Bytes of '{"payload":"","protected":"","signature":""}': the wire form minus the three values.
_WIRE_OVERHEAD = 44


def _b64_field(description: str) -> Any:
    # The model accepts any string so that junk reaches the verifier and is answered with
    # BAD_ENVELOPE; the JSON Schema still states the wire format.
    return Field(description=description, json_schema_extra={"pattern": _B64URL})


class SignedEnvelope(BaseModel):
    """The wire form: ``{"protected", "payload", "signature"}``, each BASE64URL without padding.

    Construction never checks the encoding (a verifier answers junk with ``BAD_ENVELOPE``);
    ``payload_bytes`` and ``header`` raise ``ContractError(BAD_ENVELOPE)`` on junk.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    protected: str = _b64_field("BASE64URL(UTF-8(JSON protected header))")
    payload: str = _b64_field("BASE64URL(RFC 8785 payload bytes)")
    signature: str = _b64_field("BASE64URL(Ed25519 signature over the signing input)")

    def payload_bytes(self) -> bytes:
        return decode_payload(self)

    def header(self) -> dict[str, Any]:
        """The decoded protected header (any members; use ``decode_header`` to check it)."""
        return _decode_protected(self.protected)

    def size(self) -> int:
        """Bytes of the flattened JSON serialization (compare with ``MAX_ENVELOPE_BYTES``)."""
        fields = (self.protected, self.payload, self.signature)
        return _WIRE_OVERHEAD + sum(len(f.encode("utf-8", "surrogatepass")) for f in fields)

    def signing_input(self) -> bytes:
        """``ASCII(protected || "." || payload)`` exactly as received (RFC 7515 §5.1)."""
        try:
            return f"{self.protected}.{self.payload}".encode("ascii")
        except UnicodeEncodeError as exc:
            raise ContractError(RejectionCode.BAD_ENVELOPE, "envelope is not ASCII") from exc


def _decode_protected(protected: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(protected).decode("utf-8"), object_pairs_hook=_unique)
    except ValueError as exc:
        raise ContractError(RejectionCode.BAD_ENVELOPE, f"protected header: {exc}") from exc
    if not isinstance(value, dict):
        raise ContractError(RejectionCode.BAD_ENVELOPE, "protected header is not a JSON object")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def digest(payload_bytes: bytes) -> str:
    """Lowercase hex SHA-256 of the payload bytes (a notice's ``digest``)."""
    return hashlib.sha256(payload_bytes).hexdigest()


def protected_header(*, typ: str, kid: str) -> bytes:
    return canonicalize({"alg": ALG, "kid": kid, "typ": typ})


def sign_bytes(
    *, protected: bytes, payload: bytes, private_key: Ed25519PrivateKey
) -> SignedEnvelope:
    """Low level: sign arbitrary header and payload bytes, checking nothing.

    For test vectors and tests that need malformed-but-signed envelopes; real signers use ``sign``.
    """
    p64, b64 = b64url_encode(protected), b64url_encode(payload)
    signature = private_key.sign(f"{p64}.{b64}".encode("ascii"))
    return SignedEnvelope(protected=p64, payload=b64, signature=b64url_encode(signature))


def sign(
    payload: Mapping[str, Any], *, typ: str, kid: str, private_key: Ed25519PrivateKey
) -> SignedEnvelope:
    """Sign ``canonicalize(payload)`` with header ``{"alg":"Ed25519","kid":kid,"typ":typ}``.

    ``ValueError`` for an unknown ``typ``, a malformed ``kid`` (publisher kid for notices and
    reports, hub kid for key sets and receipts) or a payload outside the contract's JSON domain.
    It does not validate the payload's schema: build it from the models' ``to_payload()``.
    """
    if typ not in TYPS:
        raise ValueError(f"unknown typ {typ!r}")
    kid_re = HUB_KID_RE if typ in (TYP_KEYSET, TYP_RECEIPT) else KID_RE
    if kid_re.fullmatch(kid) is None:
        raise ValueError(f"kid {kid!r} does not match {kid_re.pattern}")
    return sign_bytes(
        protected=protected_header(typ=typ, kid=kid),
        payload=canonicalize(payload),
        private_key=private_key,
    )


@dataclass(frozen=True)
class OpenedEnvelope:
    """An envelope past step 1: its ``kid`` and its decoded payload and signature bytes."""

    kid: str
    payload: bytes
    signature: bytes


def open_envelope(envelope: SignedEnvelope, *, typ: str, kid_re: re.Pattern[str]) -> OpenedEnvelope:
    """CONTRACT §3 step 1: check the header; the ``kid`` and the decoded payload and signature.

    ``BAD_ALG`` if ``alg`` is anything but exactly ``"Ed25519"``; ``BAD_ENVELOPE`` for a
    non-base64url/non-JSON header, members other than exactly alg/kid/typ, the wrong ``typ``
    or a ``kid`` not matching ``kid_re``. It also checks that payload and signature are
    unpadded base64url (junk is ``BAD_ENVELOPE`` before any key is looked up).
    """
    kid = _checked_kid(envelope.protected, typ, kid_re)
    return OpenedEnvelope(kid, decode_payload(envelope), _decode_signature(envelope))


@functools.lru_cache(maxsize=1024)
def _checked_kid(protected: str, typ: str, kid_re: re.Pattern[str]) -> str:
    """Step 1's header check; a signer sends the same header with every envelope, so the
    accepted ones are remembered by their exact text (a refusal raises and is not cached)."""
    header = _decode_protected(protected)
    if "alg" in header and header["alg"] != ALG:
        raise ContractError(RejectionCode.BAD_ALG, f"alg must be exactly {ALG!r}")
    if set(header) != _HEADER_MEMBERS:
        raise ContractError(
            RejectionCode.BAD_ENVELOPE, "header members must be exactly alg, kid, typ"
        )
    if header["typ"] != typ:
        raise ContractError(RejectionCode.BAD_ENVELOPE, f"typ must be {typ!r}")
    kid = header["kid"]
    if not isinstance(kid, str) or kid_re.fullmatch(kid) is None:
        raise ContractError(RejectionCode.BAD_ENVELOPE, "malformed kid")
    return kid


def decode_header(envelope: SignedEnvelope, *, typ: str, kid_re: re.Pattern[str]) -> str:
    """CONTRACT §3 step 1 (``open_envelope``): the ``kid``."""
    return open_envelope(envelope, typ=typ, kid_re=kid_re).kid


def decode_payload(envelope: SignedEnvelope) -> bytes:
    try:
        return b64url_decode(envelope.payload)
    except ValueError as exc:
        raise ContractError(RejectionCode.BAD_ENVELOPE, f"payload: {exc}") from exc


def _decode_signature(envelope: SignedEnvelope) -> bytes:
    try:
        return b64url_decode(envelope.signature)
    except ValueError as exc:
        raise ContractError(RejectionCode.BAD_ENVELOPE, f"signature: {exc}") from exc


def check_signature(
    envelope: SignedEnvelope, public_key: Ed25519PublicKey, *, signature: bytes | None = None
) -> None:
    """CONTRACT §3 step 4: Ed25519 over the exact received signing input, else ``BAD_SIGNATURE``.
    ``signature``: the envelope's decoded signature (``open_envelope``), when the caller has it."""
    if signature is None:
        signature = _decode_signature(envelope)
    if len(signature) != 64:
        raise ContractError(RejectionCode.BAD_SIGNATURE, "signature is not 64 bytes")
    try:
        public_key.verify(signature, envelope.signing_input())
    except InvalidSignature as exc:
        raise ContractError(RejectionCode.BAD_SIGNATURE, "signature does not verify") from exc
