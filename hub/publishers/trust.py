"""Registry rows as the contract's key objects: ``TrustedKey`` for verifying, ``KeyEntry`` for
the published key set. The verifier never sees a key that is not in the registry."""

from __future__ import annotations

from collections.abc import Mapping

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
