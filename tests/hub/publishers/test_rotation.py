"""Key rotation warnings (CONTRACT §4: a successor ≥ 30 days before the old key ends)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.publishers.rotation import rotation_warnings
from hub.publishers.schemas import KeyInfo
from tests.hub.helpers import NOW


def key(
    kid: str,
    *,
    not_before: datetime,
    not_after: datetime,
    created_at: datetime,
    revoked_at: datetime | None = None,
) -> KeyInfo:
    return KeyInfo(
        kid=kid,
        publisher="gov-cfa",
        not_before=not_before,
        not_after=not_after,
        revoked_at=revoked_at,
        areas=("00",),
        categories=("benefit",),
        created_at=created_at,
    )


OLD = key(
    "gov-cfa/2026a",
    not_before=NOW - timedelta(days=300),
    not_after=NOW + timedelta(days=60),
    created_at=NOW - timedelta(days=300),
)


def successor(*, registered_days_before_old_end: int, starts: datetime | None = None) -> KeyInfo:
    created = OLD.not_after - timedelta(days=registered_days_before_old_end)
    return key(
        "gov-cfa/2027a",
        not_before=starts or created,
        not_after=created + timedelta(days=365),
        created_at=created,
    )


def test_on_time_rotation_has_no_warning() -> None:
    new = successor(registered_days_before_old_end=45)
    assert rotation_warnings([OLD, new], now=new.created_at) == ()


def test_late_rotation_warns() -> None:
    new = successor(registered_days_before_old_end=10)
    [warning] = rotation_warnings([OLD, new], now=new.created_at)
    assert "late rotation" in warning
    assert "10 days" in warning


def test_gap_between_keys_warns() -> None:
    new = successor(registered_days_before_old_end=45, starts=OLD.not_after + timedelta(days=1))
    [warning] = rotation_warnings([OLD, new], now=new.created_at)
    assert "gap" in warning


def test_key_ending_soon_without_successor_warns() -> None:
    assert rotation_warnings([OLD], now=NOW) == ()
    [warning] = rotation_warnings([OLD], now=OLD.not_after - timedelta(days=29))
    assert "no successor" in warning
    assert rotation_warnings([OLD], now=OLD.not_after) == ()  # ended: history


def test_revoked_keys_are_not_successors() -> None:
    new = successor(registered_days_before_old_end=45)
    revoked = key(
        new.kid,
        not_before=new.not_before,
        not_after=new.not_after,
        created_at=new.created_at,
        revoked_at=new.created_at + timedelta(days=1),
    )
    now = OLD.not_after - timedelta(days=5)
    [warning] = rotation_warnings([OLD, revoked], now=now)
    assert "no successor" in warning
