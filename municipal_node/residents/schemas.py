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
        return json.dumps(
            {
                "household": list(self.household),
                "child_birth_dates": [d.isoformat() for d in self.child_birth_dates],
                "programs": list(self.programs),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

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
