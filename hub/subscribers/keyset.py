"""The signed key set (CONTRACT §4): every registered publisher key, signed by the hub root key.

Signing is cheap but nodes compare key sets, so the signed envelope is kept and served again
until half its validity has passed or the registry changed. A change is noticed by a
fingerprint of the key rows read on every request, so keys added or revoked by another process
(the operator CLI) show up at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.canonical import canonicalize
from contracts.jws import TYP_KEYSET, SignedEnvelope
from contracts.keyset import KeySet
from hub.identity import HubIdentity
from hub.publishers.repository import PublisherRepository
from hub.publishers.trust import key_entry


@dataclass(frozen=True)
class _Cached:
    fingerprint: str
    issued_at: datetime
    envelope: SignedEnvelope


class KeySetSigner:
    """Builds and caches the hub's signed key set. One per app (built in the lifespan)."""

    def __init__(self, identity: HubIdentity, *, validity: timedelta) -> None:
        self._identity = identity
        self._validity = validity
        self._cached: _Cached | None = None

    async def current(self, session: AsyncSession, *, now: datetime) -> SignedEnvelope:
        rows = await PublisherRepository(session).list_keys()
        entries = [key_entry(row) for row in rows]
        fingerprint = hashlib.sha256(
            canonicalize([entry.to_payload() for entry in entries])
        ).hexdigest()
        cached = self._cached
        if (
            cached is not None
            and cached.fingerprint == fingerprint
            and cached.issued_at <= now < cached.issued_at + self._validity / 2
        ):
            return cached.envelope
        keyset = KeySet.model_validate(
            {
                "hub": self._identity.hub_id,
                "issued_at": now,
                "valid_until": now + self._validity,
                "keys": entries,
            }
        )
        envelope = self._identity.sign(keyset.to_payload(), typ=TYP_KEYSET)
        self._cached = _Cached(fingerprint=fingerprint, issued_at=now, envelope=envelope)
        return envelope
