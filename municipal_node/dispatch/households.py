"""Household types of a batch's recipients, for the per-household counts of a send.

The planner knows each recipient's household types (``Recipient.household``); the batch keeps
their sum per type in plain ``household_counts`` and the per-recipient list sealed
(AES-GCM, bound to the tenant, job and batch), so the sender can subtract exactly the users
it drops at send time without decrypting any resident record. Nothing else reads it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from municipal_node.crypto import Sealer

UNKNOWN = "none"


def household_keys(household: Sequence[str]) -> tuple[str, ...]:
    """The count keys of one recipient: their household types, or ``("none",)``."""
    return tuple(household) or (UNKNOWN,)


def households_aad(tenant_code: str, job_id: int, batch_no: int) -> str:
    """Associated data of a batch's sealed household list (key rotation re-seals with it)."""
    return f"{tenant_code}:batch:{job_id}:{batch_no}"


def seal(
    sealer: Sealer,
    *,
    tenant_code: str,
    job_id: int,
    batch_no: int,
    households: Sequence[Sequence[str]],
) -> bytes | None:
    """None when no recipient's household is known (nothing worth sealing)."""
    if not any(households):
        return None
    text = json.dumps([list(h) for h in households], separators=(",", ":"))
    return sealer.seal_text(text, aad=households_aad(tenant_code, job_id, batch_no))


def open_sealed(
    sealer: Sealer, *, tenant_code: str, job_id: int, batch_no: int, sealed: bytes
) -> list[tuple[str, ...]]:
    value = json.loads(sealer.open_text(sealed, aad=households_aad(tenant_code, job_id, batch_no)))
    return [tuple(h) for h in value]


def counts_of(households: Sequence[Sequence[str]]) -> dict[str, int]:
    unknown = list(households).count(())
    if unknown == len(households):  # the common case of a large send: nothing decrypted
        return {UNKNOWN: unknown} if unknown else {}
    counts: Counter[str] = Counter()
    for household in households:
        counts.update(household_keys(household))
    return dict(counts)


def sent_counts(
    planned: dict[str, int],
    *,
    user_ids: Sequence[str],
    dropped: set[str],
    households: Sequence[Sequence[str]] | None,
) -> dict[str, int]:
    """``planned`` minus the household types of the dropped users. ``households`` is the
    opened per-recipient list (None: nobody's was known, i.e. everyone counts as "none")."""
    if not dropped:
        return dict(planned)
    counts: Counter[str] = Counter(planned)
    for index, user_id in enumerate(user_ids):
        if user_id in dropped:
            counts.subtract(household_keys(households[index] if households else ()))
    return {key: value for key, value in counts.items() if value > 0}
