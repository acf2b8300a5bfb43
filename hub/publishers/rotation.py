"""Publisher key rotation checks (CONTRACT §4): what an operator must be told.

A new key must be registered at least ``ROTATION_LEAD`` (30 days) before its predecessor's
``not_after``, so every node has refreshed its key set (≤ 7 days old) long before the old key
stops verifying, and the two keys must overlap. These are warnings, not refusals: a late
rotation is still better than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from hub.publishers.schemas import KeyInfo

ROTATION_LEAD = timedelta(days=30)


def _day(value: datetime) -> str:
    return value.isoformat()


def rotation_warnings(keys: Sequence[KeyInfo], *, now: datetime) -> tuple[str, ...]:
    """Warnings for one publisher's keys at ``now`` (empty when the rotation is healthy).

    For every unrevoked key still valid or not yet valid at ``now``: its successors are the
    unrevoked keys that stay valid longer. No successor and less than 30 days left → rotate
    now. The first registered successor registered less than 30 days before the key's
    ``not_after`` → late rotation. A successor starting after the key ends → gap.
    """
    live = [key for key in keys if key.revoked_at is None or key.revoked_at > now]
    warnings: list[str] = []
    for key in sorted(live, key=lambda k: (k.not_after, k.kid)):
        if key.not_after <= now:
            continue
        successors = [other for other in live if other.not_after > key.not_after]
        if not successors:
            left = key.not_after - now
            if left < ROTATION_LEAD:
                warnings.append(
                    f"鍵 {key.kid} は {_day(key.not_after)} に期限切れになります (残り {left.days} 日)。"
                    f"後継の鍵が未登録です: `todoke keys rotate` で今すぐ更新してください / "
                    f"key {key.kid} expires at {_day(key.not_after)} ({left.days} days left) and "
                    "no successor key is registered: rotate now (`todoke keys rotate`)"
                )
            continue
        first = min(successors, key=lambda k: (k.created_at, k.kid))
        lead = key.not_after - first.created_at
        if lead < ROTATION_LEAD:
            warnings.append(
                f"新しい鍵 {first.kid} の登録が遅れました: 旧鍵 {key.kid} の期限 "
                f"{_day(key.not_after)} まで {max(lead.days, 0)} 日しかありません (30 日以上前に登録"
                "すること、CONTRACT §4)。ノードが新しい鍵セットを取得する前に旧鍵が切れる恐れがあります / "
                f"late rotation: {first.kid} was registered only {max(lead.days, 0)} days before "
                f"{key.kid} expires at {_day(key.not_after)} (CONTRACT §4 asks for at least 30 days)"
            )
        if first.not_before > key.not_after:
            warnings.append(
                f"鍵 {key.kid} の期限 {_day(key.not_after)} から {first.kid} の開始 "
                f"{_day(first.not_before)} まで有効な鍵がありません / gap: no valid key between "
                f"{key.kid} not_after {_day(key.not_after)} and {first.kid} not_before "
                f"{_day(first.not_before)}"
            )
    return tuple(warnings)
