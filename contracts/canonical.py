"""RFC 8785 (JSON Canonicalization Scheme) for the contract's JSON.

``canonicalize`` is the serializer every signer uses. The contract allows integers only
(CONTRACT §2), and only those exactly representable by every JSON implementation
(``-(2**53 - 1) .. 2**53 - 1``, RFC 8785 §3.2.2.3 / I-JSON). ``canonicalize`` therefore
raises ``ValueError`` (an ``rfc8785.CanonicalizationError``) for floats, for integers
outside that range, for non-string keys, lone surrogates and any non-JSON type: such a
value can never be signed.

``is_canonical`` is the verifier's check (CONTRACT §3 step 5). It applies full JCS number
semantics (every JSON number is an IEEE 754 double), so a payload that is in canonical
form but holds a float, e.g. ``1.5``, passes step 5 and is refused by the schema in step 6
(``SCHEMA_INVALID``), while ``1.0``, ``1e2``, ``-0`` or ``9007199254740993`` are not
canonical (JCS writes ``1``, ``100``, ``0`` and ``9007199254740992``) and fail step 5.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1


def _plain(value: Any, path: str) -> Any:
    """Check ``value`` against the contract's JSON domain and return it as dict/list/scalars."""
    where = path or "$"
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise rfc8785.IntegerDomainError(value)
        return int(value)
    if isinstance(value, float):
        raise rfc8785.CanonicalizationError(f"float at {where}: the contract allows integers only")
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise rfc8785.CanonicalizationError(f"non-string key at {where}")
            result[key] = _plain(item, f"{path}.{key}")
        return result
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [_plain(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise rfc8785.CanonicalizationError(f"unsupported type {type(value).__name__} at {where}")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; raises ``ValueError`` for anything the contract forbids.

    ``_plain`` admits safe integers only, so the standard library's sorted compact form is the
    JCS form unless a character above U+FFFF occurs (see ``parse_canonical``); then, and for a
    lone surrogate (which cannot be encoded), the ``rfc8785`` encoder decides."""
    plain = _plain(value, "")
    try:
        data = _python_form(plain)
    except (ValueError, RecursionError):
        return rfc8785.dumps(plain)
    return data if _SUPPLEMENTARY.search(data) is None else rfc8785.dumps(plain)


class _Numbers:
    """``json.loads`` number hooks with full JCS semantics that note whether any number is
    inexact: a float, or an integer beyond the safe range (which JCS sees as a double)."""

    __slots__ = ("inexact",)

    def __init__(self) -> None:
        self.inexact = False

    def integer(self, text: str) -> int | float:
        number = int(text)
        if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return number
        self.inexact = True
        return float(number)  # OverflowError for absurd magnitudes

    def real(self, text: str) -> float:
        self.inexact = True
        return float(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# The first byte of a UTF-8 sequence for a code point above U+FFFF.
_SUPPLEMENTARY = re.compile(rb"[\xf0-\xf4]")


def _python_form(value: Any) -> bytes:
    """The standard library's sorted, compact, unescaped serialization of ``value``."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class Parsed(NamedTuple):
    """A JSON value that ``parse_canonical`` accepted; ``exact``: it holds no float and no
    integer beyond the safe range (so it is what a strict integer-only parse gives)."""

    value: Any
    exact: bool


def is_canonical(data: bytes) -> bool:
    """True iff ``data`` is exactly the RFC 8785 serialization of the JSON value it encodes."""
    return parse_canonical(data) is not None


def parse_canonical(data: bytes) -> Parsed | None:
    """The JSON value ``data`` encodes if ``data`` is exactly its RFC 8785 serialization, else
    None (so a verifier parses a payload once for step 5 and the schema of step 6).

    Fast path: for a value with exact (safe) integers only, and no character above U+FFFF in
    ``data``, JCS and the standard library's sorted, compact, unescaped form are the same bytes:
    both escape exactly ``"``, ``\\`` and U+0000–U+001F (``\\b \\t \\n \\f \\r``, else
    ``\\u00xx``), write safe integers as their digits, and sort keys by code point, which is
    UTF-16 order below U+10000. So when the data equals that form, it is canonical, at a fifth of
    the cost of the ``rfc8785`` encoder. Every other case (floats, big integers, characters above
    U+FFFF, a mismatch) takes the full RFC 8785 check."""
    numbers = _Numbers()
    try:
        text = data.decode("utf-8", errors="strict")
        value = json.loads(
            text, parse_int=numbers.integer, parse_float=numbers.real, parse_constant=_no_constant
        )
    except (ValueError, OverflowError, RecursionError):
        return None
    parsed = Parsed(value, exact=not numbers.inexact)
    if parsed.exact and _SUPPLEMENTARY.search(data) is None:
        try:
            if _python_form(value) == data:
                return parsed
        except (ValueError, RecursionError):  # a lone surrogate cannot be encoded: full check
            pass
    try:
        return parsed if rfc8785.dumps(value) == data else None
    except (ValueError, OverflowError, RecursionError):
        return None
