"""受信設定 of a friend: read, change and save (the household declaration is sealed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notice import HouseholdType
from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.line import repository
from municipal_node.line.topics import TOPICS

#: household types a friend may declare about themselves, with the words residents read
HOUSEHOLD_LABELS: dict[str, str] = {
    "single_parent": "ひとり親",
    "child_rearing": "子育て中",
    "pregnant": "妊娠中",
    "elderly": "高齢",
    "disability": "障害",
}
if set(HOUSEHOLD_LABELS) != {h.value for h in HouseholdType}:  # one vocabulary with the contract
    raise RuntimeError("HOUSEHOLD_LABELS must name every contract household type")


def declared_aad(tenant_code: str, user_id: str) -> str:
    return f"{tenant_code}:friend:{user_id}"


@dataclass(frozen=True)
class Preferences:
    topics: tuple[str, ...] = ()
    stopped: bool = False
    household: tuple[str, ...] = ()

    def toggle_topic(self, code: str) -> Preferences:
        chosen = set(self.topics) ^ {code}
        return replace(self, topics=tuple(c for c in TOPICS if c in chosen))

    def with_stopped(self, stopped: bool) -> Preferences:
        return replace(self, stopped=stopped)

    def toggle_household(self, code: str) -> Preferences:
        chosen = set(self.household) ^ {code}
        return replace(self, household=tuple(c for c in HOUSEHOLD_LABELS if c in chosen))


def seal_household(
    sealer: Sealer, *, tenant_code: str, user_id: str, household: tuple[str, ...]
) -> bytes | None:
    if not household:
        return None
    text = json.dumps({"household": list(household)}, separators=(",", ":"))
    return sealer.seal_text(text, aad=declared_aad(tenant_code, user_id))


def open_household(
    sealer: Sealer, *, tenant_code: str, user_id: str, sealed: bytes | None
) -> tuple[str, ...]:
    if sealed is None:
        return ()
    value = json.loads(sealer.open_text(sealed, aad=declared_aad(tenant_code, user_id)))
    return tuple(h for h in value.get("household", []) if h in HOUSEHOLD_LABELS)


async def load(
    session: AsyncSession, *, sealer: Sealer, tenant_code: str, user_id: str
) -> Preferences:
    row = await repository.preference(session, tenant_code, user_id)
    if row is None:
        return Preferences()
    try:
        household = open_household(
            sealer, tenant_code=tenant_code, user_id=user_id, sealed=row.declared_sealed
        )
    except DecryptionError:
        household = ()  # unreadable (e.g. a key dropped after rotation): treat as undeclared
    topics = tuple(c for c in TOPICS if c in set(row.topics or ()))
    return Preferences(topics=topics, stopped=bool(row.stopped), household=household)


async def save(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    user_id: str,
    preferences: Preferences,
    now: datetime,
) -> None:
    await repository.save_preference(
        session,
        tenant_code=tenant_code,
        user_id=user_id,
        topics=list(preferences.topics),
        stopped=preferences.stopped,
        declared_sealed=seal_household(
            sealer, tenant_code=tenant_code, user_id=user_id, household=preferences.household
        ),
        now=now,
    )
