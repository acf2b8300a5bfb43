"""Units behind bench mode's speed: the C-level checks must agree with the obvious per-id ones."""

from __future__ import annotations

from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from line_sandbox.delivery import count_deliveries
from line_sandbox.roster import CountedRoster, HashedRoster, bench_user_id
from line_sandbox.store import Channel
from line_sandbox.validation import USER_ID_RE, all_user_ids

FRIENDS = 1000
ROSTER = CountedRoster("units")
ROSTER.grow(FRIENDS)

ids_of_roster = st.integers(0, 2 * FRIENDS).map(lambda i: bench_user_id("units", i))
foreign_ids = st.integers(0, 50).map(lambda i: bench_user_id("elsewhere", i))
hex_ids = st.from_regex(USER_ID_RE, fullmatch=True)


@given(st.lists(st.one_of(ids_of_roster, foreign_ids, hex_ids), max_size=60, unique=True))
def test_bulk_lookup_equals_one_by_one(user_ids: list[str]) -> None:
    expected = [i for i in map(ROSTER.lookup, user_ids) if i is not None]
    assert ROSTER.lookup_valid(user_ids) == expected


@given(st.lists(st.integers(0, FRIENDS - 1), max_size=500, unique=True))
def test_bulk_lookup_of_only_our_ids_decodes_every_index(indexes: list[int]) -> None:
    assert ROSTER.lookup_valid([bench_user_id("units", i) for i in indexes]) == indexes


def test_lookup_refuses_non_canonical_spellings_of_an_index() -> None:
    good = bench_user_id("units", 10)
    assert ROSTER.lookup(good) == 10
    for bad in (good[:-2] + "_a", good[:-1].upper() + "a", good[:-8] + "+000000a", good + "0"):
        assert ROSTER.lookup(bad) is None
    assert ROSTER.lookup(bench_user_id("units", FRIENDS)) is None  # past the last resident


def test_hashed_roster_grows_idempotently() -> None:
    roster = HashedRoster("h")
    assert (roster.grow(3), roster.grow(2), roster.grow(5)) == (3, 0, 2)
    assert len(roster) == 5 and roster[-1] == roster[4] and roster[1:3] == [roster[1], roster[2]]
    assert roster.lookup(roster[4]) == 4 and roster.lookup("U" + "0" * 32) is None


@given(st.lists(st.one_of(hex_ids, st.text(max_size=40)), min_size=1, max_size=20))
def test_all_user_ids_agrees_with_the_per_id_regex(values: list[str]) -> None:
    expected = all(USER_ID_RE.fullmatch(v) for v in values)
    assert all_user_ids(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        ["U" + "a" * 32 + "U", "b" * 32],  # concatenation is valid, the items are not
        ["U" + "a" * 32, 5],
        ["U" + "a" * 32, None],
        ["U" + "A" * 32],
        ["U" + "a" * 31 + "\n"],
    ],
)
def test_all_user_ids_rejects_tricky_lists(values: list[Any]) -> None:
    assert all_user_ids(values) is False


def test_a_bench_counter_widens_instead_of_overflowing() -> None:
    channel = Channel(
        name="w",
        channel_id="1",
        secret="s",
        token="t",
        bot_user_id="U" + "0" * 32,
        webhook_url=None,
        multicast_rate_per_second=200,
        monthly_limit=None,
        bench=True,
    )
    channel.counts = array("H", [65_534, 65_535, 7])
    count_deliveries(channel, [0, 1, 2])
    assert channel.counts.typecode == "I"
    assert list(channel.counts) == [65_535, 65_536, 8]
