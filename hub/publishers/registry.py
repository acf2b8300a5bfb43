"""The publisher registry: publishers and their keys (validity window, scope, revocation).

Used by the operator CLI (``todoke hub add-publisher``). Every refusal is a ``RegistryError``
whose message staff can read (Japanese first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError
from contracts.ids import AREA_CODE_RE, KID_RE, PUBLISHER_ID_RE, publisher_of_kid
from contracts.keys import public_key_from_jwk
from contracts.keyset import MAX_KEY_VALIDITY
from contracts.notice import Category
from hub.publishers.models import Publisher, PublisherKey
from hub.publishers.repository import PublisherRepository
from hub.publishers.rotation import rotation_warnings
from hub.publishers.schemas import KeyInfo, PublisherInfo, Revocation

CATEGORIES = tuple(category.value for category in Category)


class RegistryError(Exception):
    """A registry change was refused; ``message`` says why, for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _key_info(row: PublisherKey) -> KeyInfo:
    return KeyInfo(
        kid=row.kid,
        publisher=row.publisher_id,
        not_before=row.not_before,
        not_after=row.not_after,
        revoked_at=row.revoked_at,
        areas=tuple(row.areas),
        categories=tuple(row.categories),
        created_at=row.created_at,
    )


def _check_key_request(
    *,
    publisher_id: str,
    kid: str,
    jwk: Mapping[str, Any],
    areas: Sequence[str],
    categories: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> None:
    if PUBLISHER_ID_RE.fullmatch(publisher_id) is None:
        raise RegistryError(
            f"発行者IDの形式が不正です / bad publisher id {publisher_id!r} "
            "(gov-<ministry>, pref-<2 digits>, muni-<5 digits>)"
        )
    if KID_RE.fullmatch(kid) is None:
        raise RegistryError(
            f"鍵IDの形式が不正です / bad key id {kid!r} (<publisher id>/<label>, e.g. gov-cfa/2026a)"
        )
    if publisher_of_kid(kid) != publisher_id:
        raise RegistryError(
            f"鍵ID {kid} は発行者 {publisher_id} のものではありません / "
            f"key id {kid} does not belong to publisher {publisher_id}"
        )
    if not areas:
        raise RegistryError("対象地域を1つ以上指定してください / give at least one --area")
    bad_areas = [area for area in areas if AREA_CODE_RE.fullmatch(area) is None]
    if bad_areas:
        raise RegistryError(
            f"地域コードが不正です / bad area code(s): {', '.join(bad_areas)} "
            "(00 = 全国, 2-digit prefecture, 5-digit municipality)"
        )
    if not categories:
        raise RegistryError("分類を1つ以上指定してください / give at least one --category")
    bad_categories = [c for c in categories if c not in CATEGORIES]
    if bad_categories:
        raise RegistryError(
            f"分類が不正です / unknown category: {', '.join(bad_categories)} "
            f"(one of {', '.join(CATEGORIES)})"
        )
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise RegistryError("有効期間には時差が必要です / times need an explicit UTC offset")
    if not not_before < not_after:
        raise RegistryError(
            "有効期間の終了は開始より後にしてください / not-after must be after not-before"
        )
    if not_after - not_before > MAX_KEY_VALIDITY:
        raise RegistryError(
            f"鍵の有効期間は最長 {MAX_KEY_VALIDITY.days} 日です / a key is valid for at most "
            f"{MAX_KEY_VALIDITY.days} days (asked: {(not_after - not_before) / timedelta(days=1):.1f})"
        )
    try:
        public_key_from_jwk(jwk)
    except ContractError as exc:
        raise RegistryError(f"公開鍵が不正です / bad public key: {exc.message}") from exc


async def add_publisher_key(
    session: AsyncSession,
    *,
    publisher_id: str,
    name: str | None,
    kid: str,
    jwk: Mapping[str, Any],
    areas: Sequence[str],
    categories: Sequence[str],
    not_before: datetime,
    not_after: datetime,
    now: datetime,
) -> tuple[bool, KeyInfo]:
    """Register ``kid`` for ``publisher_id``, creating the publisher if new.

    Returns ``(publisher_created, key)``. A key id is registered once, for ever.
    """
    _check_key_request(
        publisher_id=publisher_id,
        kid=kid,
        jwk=jwk,
        areas=areas,
        categories=categories,
        not_before=not_before,
        not_after=not_after,
    )
    repo = PublisherRepository(session)
    created = False
    publisher = await repo.get_publisher(publisher_id)
    if publisher is None:
        if not name:
            raise RegistryError(
                f"新しい発行者 {publisher_id} には --name が必要です / "
                f"publisher {publisher_id} is new: give --name"
            )
        await repo.add_publisher(Publisher(id=publisher_id, name=name, created_at=now))
        created = True
    elif name and name != publisher.name:
        raise RegistryError(
            f"発行者 {publisher_id} は「{publisher.name}」として登録済みです / "
            f"publisher {publisher_id} is already registered under another name"
        )
    if await repo.get_key(kid) is not None:
        raise RegistryError(f"鍵ID {kid} は登録済みです / key id {kid} is already registered")
    row = await repo.add_key(
        PublisherKey(
            kid=kid,
            publisher_id=publisher_id,
            x=str(jwk["x"]),
            not_before=not_before,
            not_after=not_after,
            revoked_at=None,
            areas=sorted(set(areas)),
            categories=sorted(set(categories)),
            created_at=now,
        )
    )
    return created, _key_info(row)


async def revoke_key(
    session: AsyncSession, *, kid: str, at: datetime | None = None, now: datetime
) -> Revocation:
    """Revoke ``kid`` from ``at`` (default ``now``).

    Never back-dated: notices the hub received before the revocation stay valid everywhere
    (nodes check ``revoked_at`` against the receipt's ``received_at``); the publisher withdraws
    them with a Cancel. A revocation may be scheduled in the future and brought forward, never
    postponed: revoking an already revoked key keeps the earlier time (idempotent).
    """
    when = now if at is None else at
    if when.tzinfo is None:
        raise RegistryError("失効時刻には時差が必要です / --at needs an explicit UTC offset")
    if when < now:
        raise RegistryError(
            f"失効時刻を過去にはできません ({when.isoformat()} < 現在 {now.isoformat()})。"
            "受理済みの通知は有効なままです。取り消すには発行者が Cancel を送ってください / "
            "a revocation cannot be back-dated: notices already received stay valid; "
            "the publisher withdraws them with a Cancel"
        )
    repo = PublisherRepository(session)
    row = await repo.get_key(kid)
    if row is None:
        raise RegistryError(f"鍵ID {kid} は登録されていません / key id {kid} is not registered")
    if row.revoked_at is not None and row.revoked_at <= when:
        return Revocation(kid=kid, revoked_at=row.revoked_at, changed=False)
    await repo.set_key_revoked(kid, when)
    return Revocation(kid=kid, revoked_at=when, changed=True)


async def publisher_warnings(
    session: AsyncSession, *, publisher_id: str, now: datetime
) -> tuple[str, ...]:
    """Key rotation warnings for one publisher (see ``hub.publishers.rotation``)."""
    keys = await PublisherRepository(session).list_keys(publisher_id)
    return rotation_warnings([_key_info(k) for k in keys], now=now)


async def list_publishers(
    session: AsyncSession, *, now: datetime | None = None
) -> list[PublisherInfo]:
    """Every publisher with its keys; with ``now``, also its key rotation warnings."""
    repo = PublisherRepository(session)
    keys = await repo.list_keys()
    result = []
    for publisher in await repo.list_publishers():
        own = tuple(_key_info(k) for k in keys if k.publisher_id == publisher.id)
        warnings = () if now is None else rotation_warnings(own, now=now)
        result.append(
            PublisherInfo(id=publisher.id, name=publisher.name, keys=own, warnings=warnings)
        )
    return result
