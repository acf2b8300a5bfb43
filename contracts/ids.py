"""Identifier formats of CONTRACT §1. Every pattern is compiled for ``fullmatch``.

- Prefecture codes are JIS X 0401 ``01``–``47``; municipality codes are the 5-digit JIS X 0402
  code (prefecture + 3 digits, no check digit). ``00`` means the whole country.
- A hub id (``hub-<hub id>/<label>`` root key ids) is lowercase ``[a-z0-9-]``, 1–63 chars,
  starting with a letter or digit.
- ULIDs are the canonical upper-case Crockford base32 form (first char ``0``–``7``).
"""

from __future__ import annotations

import re

_PREF = r"(?:0[1-9]|[1-3][0-9]|4[0-7])"
_LABEL = r"[A-Za-z0-9._-]{1,32}"

PREFECTURE_CODE_RE = re.compile(_PREF)
MUNICIPALITY_CODE_RE = re.compile(_PREF + r"[0-9]{3}")
AREA_CODE_RE = re.compile(rf"00|{_PREF}(?:[0-9]{{3}})?")
PUBLISHER_ID_RE = re.compile(rf"gov-[a-z][a-z0-9]{{1,31}}|pref-{_PREF}|muni-{_PREF}[0-9]{{3}}")
KID_RE = re.compile(rf"(?P<publisher>{PUBLISHER_ID_RE.pattern})/(?P<label>{_LABEL})")
HUB_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
HUB_KID_RE = re.compile(rf"hub-(?P<hub>{HUB_ID_RE.pattern})/(?P<label>{_LABEL})")
ULID_RE = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
PROGRAM_CODE_RE = re.compile(r"[a-z0-9-]{1,64}")
SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")


def publisher_of_kid(kid: str) -> str:
    """``"pref-23/2027a"`` -> ``"pref-23"``; ``ValueError`` if ``kid`` is not a publisher key id."""
    match = KID_RE.fullmatch(kid)
    if match is None:
        raise ValueError(f"not a publisher key id: {kid!r}")
    return match.group("publisher")


def area_covers(area: str, municipality_code: str) -> bool:
    """Whether scope/target ``area`` includes ``municipality_code``.

    ``"00"`` covers everything; a prefecture code covers itself and its municipalities; a
    municipality code covers only itself. ``municipality_code`` may be any area code (a 2-digit
    prefecture or ``"00"`` as well), so this also answers "does a key scoped to ``area`` cover a
    notice addressed to that area" — ``"23"`` does not cover ``"00"`` and ``"23235"`` does not
    cover ``"23"``. Malformed codes are never covered.
    """
    if AREA_CODE_RE.fullmatch(area) is None or AREA_CODE_RE.fullmatch(municipality_code) is None:
        return False
    if area == "00":
        return True
    if len(area) == 2:
        return municipality_code[:2] == area and municipality_code != "00"
    return municipality_code == area
