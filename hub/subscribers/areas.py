"""Which notices a subscriber sees: those whose ``area`` covers its municipality
(``contracts.ids.area_covers``: the municipality itself, its prefecture, or ``00``)."""

from __future__ import annotations

import base64
import json

from contracts.ids import MUNICIPALITY_CODE_RE, area_covers

WHOLE_COUNTRY = "00"


def covering_areas(municipality: str) -> tuple[str, ...]:
    """Every area code that covers ``municipality`` (a 5-digit JIS X 0402 code)."""
    if MUNICIPALITY_CODE_RE.fullmatch(municipality) is None:
        raise ValueError(f"not a municipality code: {municipality!r}")
    return tuple(
        area
        for area in (WHOLE_COUNTRY, municipality[:2], municipality)
        if area_covers(area, municipality)
    )


def areas_of_payload(payload: str) -> list[str]:
    """The distinct ``area`` codes of a stored (already verified) notice payload, base64url."""
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    areas = json.loads(raw)["area"]
    return sorted({str(area) for area in areas})
