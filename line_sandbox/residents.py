"""Simulated residents: deterministic user ids, friendship changes, channel identities.

User ids: ``simulated_user_id`` for ordinary channels, ``bench_user_id`` for bench channels
(formulas in ``roster.py``).
"""

from __future__ import annotations

import hashlib
from array import array

from line_sandbox.roster import bench_user_id, simulated_user_id
from line_sandbox.store import Channel, Friendship

__all__ = [
    "add_friends",
    "bench_user_id",
    "bot_user_id",
    "channel_id",
    "display_name",
    "follow",
    "simulated_user_id",
    "unfollow",
]


def bot_user_id(channel_name: str) -> str:
    """The bot's own user id (the ``destination`` of webhooks)."""
    return "U" + hashlib.sha256(f"bot:{channel_name}".encode()).hexdigest()[:32]


def channel_id(channel_name: str) -> str:
    """A 10-digit numeric channel id, stable for a channel name."""
    digest = int(hashlib.sha256(f"channel:{channel_name}".encode()).hexdigest()[:12], 16)
    return str(1_000_000_000 + digest % 9_000_000_000)


def display_name(index: int) -> str:
    return f"住民{index + 1:04d}"


def add_friends(channel: Channel, count: int) -> int:
    """Make residents ``0..count-1`` exist (as friends); idempotent. Returns how many were new.

    Bench channels store nothing per resident but its friendship byte and its counter, so a
    million friends take a few milliseconds and about 3 MB."""
    new = channel.roster.grow(count)
    if new:
        channel.friendship.extend(bytes([Friendship.FRIEND]) * new)
        channel.counts.extend(array(channel.counts.typecode, bytes(new * channel.counts.itemsize)))
    return new


def follow(channel: Channel, index: int) -> bool:
    """Make the resident a friend; returns ``isUnblocked`` (they had blocked the account)."""
    was_blocked = channel.friendship[index] == Friendship.BLOCKED
    channel.friendship[index] = Friendship.FRIEND
    return was_blocked


def unfollow(channel: Channel, index: int) -> None:
    channel.friendship[index] = Friendship.BLOCKED
