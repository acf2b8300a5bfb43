"""The subscriber registry: municipal node tenants allowed to read the feed.

A subscriber is registered with a fresh random bearer credential (32 bytes, URL-safe). It is
returned once; the hub keeps only its SHA-256, looked up by that digest and compared in
constant time. A suspended subscriber authenticates nowhere until it is resumed. Every refusal
is a ``SubscriberError`` whose message staff can read (Japanese first).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError
from contracts.ids import MUNICIPALITY_CODE_RE
from contracts.keys import public_jwk, public_key_from_jwk
from hub.subscribers.models import Subscriber
from hub.subscribers.repository import FeedRepository, SubscriberRepository

CREDENTIAL_BYTES = 32
MAX_NAME_LENGTH = 200
BEARER_PREFIX = "bearer "


class SubscriberError(Exception):
    """A registry change was refused; ``message`` says why, for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SubscriberInfo:
    municipality: str
    name: str
    node_jwk: dict[str, str] | None
    suspended_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Registered:
    subscriber: SubscriberInfo
    credential: str  # shown once, never stored


@dataclass(frozen=True)
class AuthenticatedSubscriber:
    municipality: str


def credential_digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()


def _info(row: Subscriber) -> SubscriberInfo:
    return SubscriberInfo(
        municipality=row.municipality,
        name=row.name,
        node_jwk=dict(row.node_jwk) if row.node_jwk is not None else None,
        suspended_at=row.suspended_at,
        created_at=row.created_at,
    )


def _check_municipality(municipality: str) -> None:
    if MUNICIPALITY_CODE_RE.fullmatch(municipality) is None:
        raise SubscriberError(
            f"市区町村コードの形式が不正です / bad municipality code {municipality!r} "
            "(5-digit JIS X 0402, e.g. 23235)"
        )


def _normalise_jwk(jwk: Mapping[str, Any] | None) -> dict[str, str] | None:
    if jwk is None:
        return None
    try:
        return public_jwk(public_key_from_jwk(jwk))
    except (ContractError, ValueError, TypeError) as exc:
        raise SubscriberError(
            "ノードの公開鍵が Ed25519 の JWK ではありません / the node public key is not an "
            'Ed25519 JWK ({"kty":"OKP","crv":"Ed25519","x":…})'
        ) from exc


async def add_subscriber(
    session: AsyncSession,
    *,
    municipality: str,
    name: str,
    node_jwk: Mapping[str, Any] | None,
    now: datetime,
) -> Registered:
    _check_municipality(municipality)
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise SubscriberError(
            f"名称は1〜{MAX_NAME_LENGTH}文字です / the name must be 1-{MAX_NAME_LENGTH} characters"
        )
    jwk = _normalise_jwk(node_jwk)
    repo = SubscriberRepository(session)
    if await repo.get(municipality) is not None:
        raise SubscriberError(
            f"{municipality} は登録済みです / subscriber {municipality} already exists "
            "(use rotate-subscriber-credential for a new credential)"
        )
    credential = secrets.token_urlsafe(CREDENTIAL_BYTES)
    row = await repo.add(
        Subscriber(
            municipality=municipality,
            name=name,
            node_jwk=jwk,
            credential_sha256=credential_digest(credential),
            suspended_at=None,
            created_at=now,
        )
    )
    return Registered(subscriber=_info(row), credential=credential)


async def rotate_credential(session: AsyncSession, *, municipality: str) -> str:
    """Issue a new credential; the old one stops working when this commits."""
    _check_municipality(municipality)
    credential = secrets.token_urlsafe(CREDENTIAL_BYTES)
    if not await SubscriberRepository(session).set_credential(
        municipality, credential_digest(credential)
    ):
        raise SubscriberError(f"{municipality} は未登録です / no subscriber {municipality}")
    return credential


async def set_node_key(
    session: AsyncSession, *, municipality: str, node_jwk: Mapping[str, Any]
) -> None:
    """Register (or replace: key rotation) the node's report key. Reports signed by the old key
    are refused from the moment this commits; the node re-submits under the new one."""
    _check_municipality(municipality)
    jwk = _normalise_jwk(node_jwk)
    if jwk is None or not await SubscriberRepository(session).set_node_jwk(municipality, jwk):
        raise SubscriberError(f"{municipality} は未登録です / no subscriber {municipality}")


async def set_suspended(
    session: AsyncSession, *, municipality: str, suspended: bool, now: datetime
) -> SubscriberInfo:
    _check_municipality(municipality)
    repo = SubscriberRepository(session)
    if not await repo.set_suspended(municipality, now if suspended else None):
        raise SubscriberError(f"{municipality} は未登録です / no subscriber {municipality}")
    row = await repo.get(municipality)
    if row is None:  # pragma: no cover - updated just above in this transaction
        raise SubscriberError(f"{municipality} は未登録です / no subscriber {municipality}")
    await session.refresh(row)
    return _info(row)


async def list_subscribers(session: AsyncSession) -> Sequence[SubscriberInfo]:
    return [_info(row) for row in await SubscriberRepository(session).list_all()]


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` value, or ``None``."""
    if authorization is None or not authorization[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        return None
    token = authorization[len(BEARER_PREFIX) :].strip()
    return token or None


async def authenticate(
    session: AsyncSession, *, authorization: str | None
) -> AuthenticatedSubscriber | None:
    """The active subscriber an ``Authorization`` value names, or ``None`` (missing, unknown
    or suspended: the caller cannot tell which)."""
    token = bearer_token(authorization)
    if token is None or len(token) > 512:
        return None
    presented = credential_digest(token)
    row = await SubscriberRepository(session).by_credential_hash(presented)
    if row is None or not hmac.compare_digest(row.credential_sha256, presented):
        return None
    if row.suspended_at is not None:
        return None
    return AuthenticatedSubscriber(municipality=row.municipality)


class FeedAuthenticator:
    """Authenticates feed reads in batches, together with reading ``last_seq``.

    When a notice is published every subscriber reads the feed within the same second; one
    query per read would queue them all on the connection pool. Reads arriving while a check
    runs wait for the next one, which covers all of them (at most ``max_batch`` credentials):
    one round trip for the whole batch. Each read is still checked against the database after
    it arrived, so a suspension or a credential rotation that committed before is honoured.
    One per hub process, used from the event loop only.
    """

    def __init__(self, *, max_batch: int = 500) -> None:
        self.max_batch = max_batch
        self._pending: dict[str, list[asyncio.Future[tuple[str | None, int]]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0

    async def check(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        *,
        authorization: str | None,
    ) -> tuple[AuthenticatedSubscriber | None, int | None]:
        """``(subscriber or None, last_seq)``; ``(None, None)`` without a usable bearer token."""
        token = bearer_token(authorization)
        if token is None or len(token) > 512:
            return None, None
        future: asyncio.Future[tuple[str | None, int]] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(credential_digest(token), []).append(future)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(transaction))
        municipality, last_seq = await future
        if municipality is None:
            return None, last_seq
        return AuthenticatedSubscriber(municipality=municipality), last_seq

    async def _run(
        self, transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    ) -> None:
        try:
            while self._pending:
                digests = list(self._pending)[: self.max_batch]
                batch = {digest: self._pending.pop(digest) for digest in digests}
                self.batches += 1
                try:
                    async with transaction() as session:
                        last_seq, found = await FeedRepository(session).last_seq_and_subscribers(
                            digests
                        )
                except Exception as exc:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for digest, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result((found.get(digest), last_seq))
        finally:
            self._runner = None
