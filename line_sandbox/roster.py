"""Who a channel's simulated residents are: user id ↔ resident index.

Two kinds of roster, both a ``Sequence[str]`` of user ids indexed by resident index:

- ``HashedRoster`` (ordinary channels): resident ``i`` of channel ``c`` is
  ``"U" + sha256(f"{c}:{i}").hexdigest()[:32]`` — ids look random, like LINE's. Ids and the
  reverse lookup are stored (a list and a dict).
- ``CountedRoster`` (bench channels): resident ``i`` is ``BENCH_PREFIX(c) + f"{i:08x}"`` where
  ``BENCH_PREFIX(c) = "U" + sha256(f"bench:{c}").hexdigest()[:24]``. Nothing is stored per
  resident: an id is computed from its index and parsed back from its last 8 hex digits, so a
  channel of 1,000,000 friends costs nothing here. Ids still match LINE's ``U[0-9a-f]{32}`` and
  ascending index order is ascending user id order, so a client can generate the same ids itself
  (``bench_user_id``) instead of paging them.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

BENCH_INDEX_DIGITS = 8
BENCH_PREFIX_LENGTH = 25
MAX_BENCH_FRIENDS = 16**BENCH_INDEX_DIGITS
UINT32 = next(code for code in "IL" if array(code).itemsize == 4)


def simulated_user_id(channel_name: str, index: int) -> str:
    """The LINE user id of the ``index``-th simulated resident of an ordinary channel."""
    return "U" + hashlib.sha256(f"{channel_name}:{index}".encode()).hexdigest()[:32]


def bench_prefix(channel_name: str) -> str:
    """The first 25 characters (``U`` + 24 hex digits) of every user id of a bench channel."""
    return "U" + hashlib.sha256(f"bench:{channel_name}".encode()).hexdigest()[:24]


def bench_user_id(channel_name: str, index: int) -> str:
    """The LINE user id of the ``index``-th resident of a bench channel."""
    return f"{bench_prefix(channel_name)}{index:08x}"


class Roster(Sequence[str]):
    """User ids by resident index, plus the reverse lookup."""

    bench: bool = False

    def lookup(self, user_id: str) -> int | None:
        """The resident index of ``user_id``, or None when it is not one of this channel's."""
        raise NotImplementedError

    def grow(self, count: int) -> int:
        """Make residents ``0..count-1`` exist; never shrinks. Returns how many were new."""
        raise NotImplementedError

    def lookup_valid(self, user_ids: Iterable[str]) -> list[int]:
        """Indexes of those ``user_ids`` that are residents here, in order. Every id must
        already match ``U[0-9a-f]{32}`` (the multicast validator checked it)."""
        raise NotImplementedError

    def _at(self, index: int) -> str:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        size = len(self)
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("resident index out of range")
        return self._at(index)


class HashedRoster(Roster):
    def __init__(self, channel_name: str) -> None:
        self._name = channel_name
        self._ids: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def _at(self, index: int) -> str:
        return self._ids[index]

    def lookup(self, user_id: str) -> int | None:
        return self._index.get(user_id)

    def lookup_valid(self, user_ids: Iterable[str]) -> list[int]:
        return [i for i in map(self._index.get, user_ids) if i is not None]

    def grow(self, count: int) -> int:
        start = len(self._ids)
        for index in range(start, count):
            user_id = simulated_user_id(self._name, index)
            self._ids.append(user_id)
            self._index[user_id] = index
        return max(0, count - start)


class CountedRoster(Roster):
    bench = True

    def __init__(self, channel_name: str) -> None:
        self.prefix = bench_prefix(channel_name)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _at(self, index: int) -> str:
        return f"{self.prefix}{index:08x}"

    def lookup(self, user_id: str) -> int | None:
        if len(user_id) != 33 or not user_id.startswith(self.prefix):
            return None
        try:
            index = int(user_id[BENCH_PREFIX_LENGTH:], 16)
        except ValueError:
            return None
        # int() also takes "+", "_" and upper case: only the canonical spelling is ours.
        if index >= self._count or self._at(index) != user_id:
            return None
        return index

    def lookup_valid(self, user_ids: Iterable[str]) -> list[int]:
        ids = list(user_ids)
        joined = "".join(ids)
        prefix, count = self.prefix, self._count
        # In a run of valid ids "U" occurs only where an id starts, so the prefix cannot match
        # across two ids: when it occurs once per id, every id is ours and removing it leaves
        # the 8-hex-digit indexes, decoded in C as big-endian uint32s.
        if joined.count(prefix) == len(ids):
            indexes = array(UINT32, bytes.fromhex(joined.replace(prefix, "")))
            if sys.byteorder == "little":
                indexes.byteswap()
            return [i for i in indexes if i < count]
        out: list[int] = []
        for user_id in ids:  # some ids are not this channel's (LINE ignores them)
            if user_id.startswith(prefix):
                index = int(user_id[BENCH_PREFIX_LENGTH:], 16)
                if index < count:
                    out.append(index)
        return out

    def grow(self, count: int) -> int:
        if count > MAX_BENCH_FRIENDS:
            raise ValueError(f"a bench channel holds at most {MAX_BENCH_FRIENDS} residents")
        new = max(0, count - self._count)
        self._count = max(self._count, count)
        return new


class RosterIndex(Mapping[str, int]):
    """``user id → index`` as a read-only mapping over a roster (``channel.index_of``)."""

    def __init__(self, roster: Roster) -> None:
        self._roster = roster

    def __getitem__(self, user_id: str) -> int:
        index = self._roster.lookup(user_id)
        if index is None:
            raise KeyError(user_id)
        return index

    def __iter__(self) -> Iterator[str]:
        return iter(self._roster)

    def __len__(self) -> int:
        return len(self._roster)

    def __contains__(self, user_id: object) -> bool:
        return isinstance(user_id, str) and self._roster.lookup(user_id) is not None
