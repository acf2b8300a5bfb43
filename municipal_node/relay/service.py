"""Verify one feed item and commit its outcome together with the cursor.

Order of checks for an item: the receipt (hub root key signature, ``typ``), the receipt
belongs to this item (same ``seq``, same ``digest`` as the envelope's payload bytes, the hub
of the key set), then the notice itself (``verify_notice`` with the verified key set,
``received_at`` = receipt's), then the notice is the one the receipt names (publisher,
notice_id). Any failure is a rejection with a ``RejectionCode`` — recorded, cursor advanced.
A verified notice whose ``area`` covers the tenant is stored; others only advance the cursor.

The cursor moves with each item's transaction (compare-and-set from the previous cursor), to
the item's ``seq`` — or, for the last item of a page, to the page's ``scannedTo`` (the hub
examined every seq up to there; those it did not return do not cover this municipality). So
a crash at any point leaves either the item and its cursor, or neither.

The hub's unsigned marks (``status``, ``expired``) are only cross-checked: the signed notice
decides. ``Test``/``Exercise`` are stored as skipped; an expired notice is stored and the
dispatcher's expiry rule (``now >= expires``: no job, and a job's sends stop) keeps it from
being sent. An ``Actual`` ``Cancel`` or ``Update`` stops, in the transaction that stores it,
the pending sends of the notices it supersedes (``dispatch.control.apply_hub_supersession``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.errors import ContractError, RejectionCode
from contracts.ids import area_covers
from contracts.jws import digest
from contracts.keyset import KeySet
from contracts.notice import MsgType, Notice, Status
from contracts.receipt import Receipt
from contracts.verify import (
    KeySetLookup,
    VerifiedNotice,
    verify_keyset,
    verify_notice,
    verify_receipt,
)
from municipal_node.db.engine import unit_of_work
from municipal_node.db.upsert import insert_for
from municipal_node.dispatch.control import apply_hub_supersession
from municipal_node.relay.models import FeedRejection, HubKeySet, NoticeState, StoredNotice
from municipal_node.relay.schemas import FeedItem, envelope_of
from municipal_node.tenants import repository as tenants

log = logging.getLogger(__name__)


class CursorMovedError(Exception):
    """Another follower advanced this tenant's cursor first; re-read and continue."""


@dataclass(frozen=True)
class Accepted:
    verified: VerifiedNotice
    receipt: Receipt


@dataclass(frozen=True)
class NotForUs:
    publisher: str
    notice_id: str


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str
    publisher: str | None = None
    notice_id: str | None = None


Outcome = Accepted | NotForUs | Rejected


class KeySetCache:
    """The hub's key set, verified against the pinned root keys; never used once expired."""

    def __init__(self) -> None:
        self._raw: dict[str, str] | None = None
        self._keyset: KeySet | None = None

    def current(
        self, raw: dict[str, str], *, root_keys: dict[str, Ed25519PublicKey], now: datetime
    ) -> tuple[KeySet, bool]:
        """The verified key set and whether it is new (differs from the last one).

        Raises ``ContractError`` when the key set does not verify or has expired."""
        keyset = self._keyset if raw == self._raw else None
        fresh = keyset is None
        if keyset is None:
            try:
                envelope = envelope_of(raw)
            except ValidationError as exc:
                raise ContractError(RejectionCode.BAD_ENVELOPE, "malformed key set") from exc
            keyset = verify_keyset(envelope, root_keys=root_keys, now=now)
            self._raw, self._keyset = raw, keyset
        if now >= keyset.valid_until:
            raise ContractError(RejectionCode.KEY_NOT_VALID, "the hub's key set has expired")
        return keyset, fresh


async def record_keyset(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_code: str,
    keyset: KeySet,
    raw: dict[str, str],
    now: datetime,
) -> None:
    """Keep the newest verified key set as this tenant's view of the hub's keys."""
    values = {
        "hub": keyset.hub,
        "issued_at": keyset.issued_at,
        "valid_until": keyset.valid_until,
        "envelope": dict(raw),
        "verified_at": now,
    }
    async with unit_of_work(sessions) as session:
        await session.execute(
            insert_for(session, HubKeySet)
            .values(tenant_code=tenant_code, **values)
            .on_conflict_do_update(index_elements=["tenant_code"], set_=values)
        )
    revoked = sorted(key.kid for key in keyset.keys if key.revoked_at is not None)
    log.info(
        "tenant %s: key set of hub %s issued %s verified (%d keys, revoked: %s)",
        tenant_code,
        keyset.hub,
        keyset.issued_at.isoformat(),
        len(keyset.keys),
        ", ".join(revoked) or "none",
    )


def cross_check_marks(item: FeedItem, notice: Notice, *, tenant_code: str, now: datetime) -> None:
    """The hub's unsigned ``status``/``expired`` should agree with the signed notice."""
    if item.status != str(notice.status):
        log.warning(
            "tenant %s: hub marks seq %d as status=%s but the signed notice says %s; "
            "the signed notice decides",
            tenant_code,
            item.seq,
            item.status[:16],
            notice.status,
        )
    if item.expired and now < notice.expires:
        log.info(
            "tenant %s: hub marks seq %d expired, our clock says it expires at %s "
            "(clock difference?); the dispatcher decides with our clock",
            tenant_code,
            item.seq,
            notice.expires.isoformat(),
        )


def check_item(
    item: FeedItem,
    *,
    keyset: KeySet,
    root_keys: dict[str, Ed25519PublicKey],
    tenant_code: str,
    now: datetime,
) -> Outcome:
    receipt: Receipt | None = None
    try:
        try:
            envelope = envelope_of(item.envelope)
            receipt_envelope = envelope_of(item.receipt)
        except ValidationError as exc:
            raise ContractError(RejectionCode.BAD_ENVELOPE, "malformed envelope") from exc
        receipt = verify_receipt(receipt_envelope, root_keys=root_keys)
        if receipt.seq != item.seq:
            raise ContractError(
                RejectionCode.BAD_SIGNATURE, f"receipt is for seq {receipt.seq}, not {item.seq}"
            )
        if receipt.hub != keyset.hub:
            raise ContractError(RejectionCode.BAD_SIGNATURE, "receipt from another hub")
        if receipt.digest != digest(envelope.payload_bytes()):
            raise ContractError(
                RejectionCode.BAD_SIGNATURE, "receipt digest does not match the envelope"
            )
        verified = verify_notice(
            envelope, keys=KeySetLookup(keyset), received_at=receipt.received_at, now=now
        )
        notice = verified.notice
        if (notice.publisher, notice.notice_id) != (receipt.publisher, receipt.notice_id):
            raise ContractError(
                RejectionCode.BAD_SIGNATURE, "receipt names another notice than the envelope"
            )
    except ContractError as exc:
        return Rejected(
            str(exc.code),
            exc.message,
            receipt.publisher if receipt else None,
            receipt.notice_id if receipt else None,
        )
    if not any(area_covers(area, tenant_code) for area in notice.area):
        return NotForUs(notice.publisher, notice.notice_id)
    return Accepted(verified, receipt)


CANCEL_APPLIED = (
    "取消を受信し、対象の通知の未送信分を停止しました / cancel received; the pending sends of "
    "the notices it references were stopped"
)


def initial_state(notice: Notice) -> tuple[str, str | None]:
    """``Actual`` ``Alert`` and ``Update`` wait for their send job (an Update is sent as its own
    job; storing it stops what is left of the earlier revision); an ``Actual`` ``Cancel`` is
    done once stored (it stops the referenced sends and sends nothing itself)."""
    status = str(notice.status)
    if status != "Actual":
        return NoticeState.SKIPPED, (
            f"status={status}: 訓練・試験の通知は住民に送信しません / "
            "Test and Exercise notices are never sent to residents"
        )
    if notice.msg_type is MsgType.CANCEL:
        return NoticeState.DONE, CANCEL_APPLIED
    return NoticeState.STORED, None


def _stored_notice(
    tenant_code: str, accepted: Accepted, item: FeedItem, now: datetime
) -> StoredNotice:
    verified, notice = accepted.verified, accepted.verified.notice
    state, reason = initial_state(notice)
    return StoredNotice(
        tenant_code=tenant_code,
        publisher=notice.publisher,
        notice_id=notice.notice_id,
        document_id=notice.document_id,
        revision=notice.revision,
        msg_type=str(notice.msg_type),
        status=str(notice.status),
        category=str(notice.category),
        program_code=notice.program.code,
        headline=notice.content.ja.headline,
        effective=notice.effective,
        expires=notice.expires,
        seq=item.seq,
        kid=verified.kid,
        digest=verified.digest,
        received_at=accepted.receipt.received_at,
        verified_at=now,
        envelope=dict(item.envelope),
        receipt=dict(item.receipt),
        state=state,
        state_reason=reason,
        targeted=0,
        updated_at=now,
    )


async def advance_cursor(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_code: str,
    from_seq: int,
    to_seq: int,
    row: StoredNotice | FeedRejection | None = None,
    after_store: Callable[[AsyncSession], Awaitable[object]] | None = None,
) -> None:
    """Store ``row`` (if any), run ``after_store`` and move the cursor ``from_seq`` → ``to_seq``
    in one transaction.

    Raises ``CursorMovedError`` (nothing stored) when the cursor is no longer ``from_seq``."""
    async with unit_of_work(sessions) as session:
        if row is not None:
            session.add(row)
            await session.flush()
        if after_store is not None:
            await after_store(session)
        if not await tenants.advance_cursor(session, tenant_code, from_seq=from_seq, to_seq=to_seq):
            raise CursorMovedError(tenant_code)


def _supersession(
    tenant_code: str, notice: Notice, now: datetime
) -> Callable[[AsyncSession], Awaitable[object]] | None:
    """For an ``Actual`` ``Cancel``/``Update``: stop, in the storing transaction, the pending
    sends of the notices it supersedes (``dispatch.control.apply_hub_supersession``)."""
    if notice.msg_type is MsgType.ALERT or notice.status is not Status.ACTUAL:
        return None

    async def apply(session: AsyncSession) -> object:
        cancelled = await apply_hub_supersession(
            session, tenant_code=tenant_code, notice=notice, now=now
        )
        log.info(
            "tenant %s: %s %s/%s stopped %d pending batch(es) of the notices it supersedes",
            tenant_code,
            notice.msg_type,
            notice.publisher,
            notice.notice_id,
            cancelled,
        )
        return cancelled

    return apply


async def commit_outcome(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_code: str,
    item: FeedItem,
    outcome: Outcome,
    now: datetime,
    from_seq: int,
    to_seq: int,
) -> str:
    """Store the outcome and move the cursor ``from_seq`` → ``to_seq`` (≥ ``item.seq``) in one
    transaction.

    Returns what happened: ``stored``, ``skipped``, ``rejected``, ``not_for_us``.
    """
    if not from_seq < item.seq <= to_seq:
        raise ValueError(f"seq {item.seq} is not in ({from_seq}, {to_seq}]")
    move = functools.partial(
        advance_cursor, sessions, tenant_code=tenant_code, from_seq=from_seq, to_seq=to_seq
    )
    if isinstance(outcome, NotForUs):
        await move()
        return "not_for_us"
    if isinstance(outcome, Accepted):
        cross_check_marks(item, outcome.verified.notice, tenant_code=tenant_code, now=now)
        row = _stored_notice(tenant_code, outcome, item, now)
        notice = outcome.verified.notice
        try:
            await move(row=row, after_store=_supersession(tenant_code, notice, now))
        except IntegrityError:
            outcome = Rejected(
                str(RejectionCode.DUPLICATE),
                "this notice is already stored at an earlier seq",
                row.publisher,
                row.notice_id,
            )
        else:
            return "skipped" if row.state == NoticeState.SKIPPED else "stored"
    log.warning(
        "tenant %s: feed item seq %d rejected: %s (%s)",
        tenant_code,
        item.seq,
        outcome.code,
        outcome.message,
    )
    rejection = FeedRejection(
        tenant_code=tenant_code,
        seq=item.seq,
        publisher=outcome.publisher,
        notice_id=outcome.notice_id,
        code=outcome.code,
        message=outcome.message[:2000],
        rejected_at=now,
        detail={},
    )
    await move(row=rejection)
    return "rejected"


async def keyset_view(
    session: AsyncSession, *, tenant_code: str, root_keys: dict[str, Ed25519PublicKey]
) -> tuple[KeySet, HubKeySet] | None:
    """The newest key set the follower verified for the tenant, verified again against the
    pinned root keys (as of when it was verified); None before the first one."""
    row = await session.get(HubKeySet, tenant_code)
    if row is None:
        return None
    keyset = verify_keyset(envelope_of(row.envelope), root_keys=root_keys, now=row.verified_at)
    return keyset, row
