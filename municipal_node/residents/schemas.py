from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from municipal_node.crypto import Sealer

HOUSEHOLD_TYPES = ("single_parent", "child_rearing", "pregnant", "elderly", "disability")


@dataclass(frozen=True)
class ResidentAttributes:
    """The sensitive part of a resident record; only ever stored sealed."""

    household: tuple[str, ...]
    child_birth_dates: tuple[date, ...]
    programs: tuple[str, ...]

    def to_json(self) -> str:
        """Compact JSON. Built by hand: every value is a validated token (household type,
        ISO date, program code ``[a-z0-9-]``) that needs no escaping, and this runs for every
        row of an import; equal to ``json.dumps(..., separators=(",", ":"))`` (tested)."""
        household = '","'.join(self.household)
        dates = '","'.join(d.isoformat() for d in self.child_birth_dates)
        programs = '","'.join(self.programs)
        return (
            '{"household":[' + (f'"{household}"' if household else "")
            + '],"child_birth_dates":[' + (f'"{dates}"' if dates else "")
            + '],"programs":[' + (f'"{programs}"' if programs else "") + "]}"
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> ResidentAttributes:
        value = json.loads(text)
        return cls(
            household=tuple(value["household"]),
            child_birth_dates=tuple(date.fromisoformat(d) for d in value["child_birth_dates"]),
            programs=tuple(value["programs"]),
        )


def resident_aad(tenant_code: str, resident_id: str) -> str:
    return f"resident:{tenant_code}:{resident_id}"


def seal_attributes(
    sealer: Sealer, *, tenant_code: str, resident_id: str, attributes: ResidentAttributes
) -> bytes:
    return sealer.seal_text(attributes.to_json(), aad=resident_aad(tenant_code, resident_id))


def open_attributes(
    sealer: Sealer, *, tenant_code: str, resident_id: str, sealed: bytes
) -> ResidentAttributes:
    return ResidentAttributes.from_json(
        sealer.open_text(sealed, aad=resident_aad(tenant_code, resident_id))
    )
