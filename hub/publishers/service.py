"""Publishing: verify a signed notice (CONTRACT §3, via ``contracts.verify``), then hand it to
the lifecycle rules and the numbering (``hub.publishers.lifecycle``, ``.sequencing``).
Expected failures come back as ``PublishRejected`` data; a rejection stores no notice.

The caller owns the transaction (commit on return, rollback on exception). Verification takes
no lock; ``publish_notice`` (a batch of one, lock first) and the batcher
(``hub.publishers.batch``) store under the sequence row lock, so two publishers racing on one
notice id see each other's result.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError, RejectionCode
from contracts.jws import MAX_ENVELOPE_BYTES, SignedEnvelope
from contracts.verify import KeyLookup, TrustedKey, verify_notice
from hub.identity import HubIdentity
from hub.publishers.repository import PublisherRepository
from hub.publishers.schemas import (
    EnvelopeStrings,
    PublishRejected,
    PublishResult,
    VerifiedPublish,
)
from hub.publishers.sequencing import store_verified
from hub.publishers.trust import RegistryKeyLookup, trusted_key


def header_kid(envelope: SignedEnvelope) -> str | None:
    """The ``kid`` the header names, or None for an oversized envelope (never parsed) or a junk
    header: the verifier refuses both (TOO_LARGE, BAD_ENVELOPE/BAD_ALG) before any key."""
    if envelope.size() > MAX_ENVELOPE_BYTES:
        return None
    try:
        kid = envelope.header().get("kid")
    except ContractError:
        return None
    return kid if isinstance(kid, str) else None


async def _lookup_for(
    repo: PublisherRepository,
    envelope: SignedEnvelope,
    known: dict[str, TrustedKey | None] | None = None,
) -> RegistryKeyLookup:
    """Fetch only the key the header names. ``known``: keys read earlier in the same
    transaction (each kid is read once)."""
    kid = header_kid(envelope)
    if kid is None:
        return RegistryKeyLookup({})
    if known is not None and kid in known:
        key = known[kid]
    else:
        row = await repo.get_key(kid)
        key = None if row is None else trusted_key(row)
        if known is not None:
            known[kid] = key
    return RegistryKeyLookup({} if key is None else {kid: key})


def signed_envelope(envelope: EnvelopeStrings) -> SignedEnvelope:
    # Building the model decodes nothing; the size is checked before any parsing.
    return SignedEnvelope(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
    )


def verify_envelope(
    envelope: EnvelopeStrings, *, keys: KeyLookup, now: datetime
) -> VerifiedPublish | PublishRejected:
    """Size limit and signature verification against ``keys`` (no database)."""
    signed = signed_envelope(envelope)
    size = signed.size()
    if size > MAX_ENVELOPE_BYTES:
        return PublishRejected(
            RejectionCode.TOO_LARGE,
            f"envelope is {size} bytes; the limit is {MAX_ENVELOPE_BYTES}",
        )
    try:
        verified = verify_notice(signed, keys=keys, received_at=now, now=now)
    except ContractError as exc:
        return PublishRejected(exc.code, exc.message)
    return VerifiedPublish(envelope=envelope, verified=verified, now=now)


async def verify_publish(
    session: AsyncSession,
    *,
    envelope: EnvelopeStrings,
    now: datetime,
    known_keys: dict[str, TrustedKey | None] | None = None,
) -> VerifiedPublish | PublishRejected:
    """``verify_envelope`` with the key the header names, read in ``session`` (unless
    ``known_keys`` has it from earlier in this transaction)."""
    keys = await _lookup_for(PublisherRepository(session), signed_envelope(envelope), known_keys)
    return verify_envelope(envelope, keys=keys, now=now)


async def publish_notice(
    session: AsyncSession,
    *,
    envelope: EnvelopeStrings,
    identity: HubIdentity,
    now: datetime,
) -> PublishResult:
    """Verify and store one signed notice received ``now``."""
    checked = await verify_publish(session, envelope=envelope, now=now)
    if isinstance(checked, PublishRejected):
        return checked
    return (await store_verified(session, [checked], identity=identity))[0]
