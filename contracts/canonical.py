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
from collections.abc import Mapping, Sequence
from typing import Any

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
    """The RFC 8785 bytes of ``value``; raises ``ValueError`` for anything the contract forbids."""
    return rfc8785.dumps(_plain(value, ""))


def _jcs_number(text: str) -> int | float:
    number = int(text)
    if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return number
    return float(number)  # JCS sees a double; OverflowError for absurd magnitudes


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def is_canonical(data: bytes) -> bool:
    """True iff ``data`` is exactly the RFC 8785 serialization of the JSON value it encodes."""
    try:
        text = data.decode("utf-8", errors="strict")
        value = json.loads(text, parse_int=_jcs_number, parse_constant=_no_constant)
        return rfc8785.dumps(value) == data
    except (ValueError, OverflowError, RecursionError):
        return False
