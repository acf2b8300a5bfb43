"""Registry rows as the contract's key objects: ``TrustedKey`` for verifying, ``KeyEntry`` for
the published key set. The verifier never sees a key that is not in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.keys import public_key_from_jwk
from contracts.keyset import KeyEntry, KeyScope
from contracts.verify import TrustedKey
from hub.publishers.models import PublisherKey


def jwk_of(row: PublisherKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": row.x}


def trusted_key(row: PublisherKey) -> TrustedKey:
    return TrustedKey(
        kid=row.kid,
        publisher=row.publisher_id,
        public_key=public_key_from_jwk(jwk_of(row)),
        not_before=row.not_before,
        not_after=row.not_after,
        revoked_at=row.revoked_at,
        areas=frozenset(row.areas),
        categories=frozenset(row.categories),
    )


def key_entry(row: PublisherKey) -> KeyEntry:
    return KeyEntry.model_validate(
        {
            "kid": row.kid,
            "publisher": row.publisher_id,
            "jwk": jwk_of(row),
            "not_before": row.not_before,
            "not_after": row.not_after,
            "revoked_at": row.revoked_at,
            "scope": KeyScope.model_validate({"area": row.areas, "category": row.categories}),
        }
    )


class RegistryKeyLookup:
    """A ``contracts.verify.KeyLookup`` over keys read from the registry beforehand."""

    def __init__(self, keys: Mapping[str, TrustedKey]) -> None:
        self._keys = dict(keys)

    def get(self, kid: str) -> TrustedKey | None:
        return self._keys.get(kid)


RowState = tuple[object, ...]


def row_state(row: PublisherKey) -> RowState:
    """Everything of a registry row that verification depends on."""
    return (
        row.kid,
        row.publisher_id,
        row.x,
        row.not_before,
        row.not_after,
        row.revoked_at,
        tuple(row.areas),
        tuple(row.categories),
    )


@dataclass(frozen=True, eq=False)
class CachedKey:
    state: RowState
    key: TrustedKey


class KeyCache:
    """Publisher keys as the registry last showed them to this process, so a publish can be
    verified the moment it arrives (``PublishBatcher``). Never an authority: the storing
    transaction reads the rows again (``refresh``) and keeps an early verification only if it
    used the very entry ``refresh`` returns, i.e. the row did not change in between (a
    revocation, a new validity window or scope). Bounded: a full cache forgets its oldest kid."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._keys: dict[str, CachedKey] = {}

    def get(self, kid: str) -> CachedKey | None:
        return self._keys.get(kid)

    def refresh(self, kid: str, row: PublisherKey | None) -> CachedKey | None:
        """The entry for the current row of ``kid`` (the cached one when unchanged)."""
        if row is None:
            self._keys.pop(kid, None)
            return None
        state = row_state(row)
        cached = self._keys.get(kid)
        if cached is None or cached.state != state:
            cached = CachedKey(state=state, key=trusted_key(row))
            self._keys.pop(kid, None)
            while len(self._keys) >= self.max_entries:
                del self._keys[next(iter(self._keys))]
            self._keys[kid] = cached
        return cached


class CacheLookup:
    """A ``KeyLookup`` over a ``KeyCache`` that remembers the entry it handed out."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache
        self.used: CachedKey | None = None

    def get(self, kid: str) -> TrustedKey | None:
        self.used = self.cache.get(kid)
        return None if self.used is None else self.used.key
