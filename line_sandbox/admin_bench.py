"""Admin routes for counting deliveries and paging friend ids (what benchmarks and exactly-once
tests read). Prefix ``/sandbox``.

``GET /sandbox/channels/{name}/counts`` → ``{"recipients", "messages", "duplicates",
"max_per_recipient", "requests", …}``; with ``?user_id=`` → that resident's ``count``.

``GET /sandbox/channels/{name}/friend-ids?after=&limit=`` pages current friends in resident-index
order (``limit`` ≤ 10,000; ``after`` = the last user id of the previous page, exclusive). For a
bench channel the ids need not be paged at all: resident ``i``'s id is
``friend_id_prefix + format(i, "08x")`` with ``friend_id_prefix = "U" +
sha256(("bench:" + channel name).encode()).hexdigest()[:24]`` (given in the answer's ``formula``),
and index order is ascending id order.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from fastapi import APIRouter, Query, Request

from line_sandbox.channels import AdminError, get_channel
from line_sandbox.counting import counts_summary
from line_sandbox.roster import BENCH_INDEX_DIGITS, CountedRoster
from line_sandbox.store import Channel, SandboxState

MAX_PAGE = 10_000


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _resident(channel: Channel, user_id: str) -> int:
    index = channel.roster.lookup(user_id)
    if index is None:
        raise AdminError(
            404,
            "unknown_user",
            f"このチャネルの住民ではありません / no simulated user {user_id!r} in this channel",
        )
    return index


def formula(channel: Channel) -> dict[str, Any]:
    roster = channel.roster
    if isinstance(roster, CountedRoster):
        return {
            "kind": "bench",
            "friend_id_prefix": roster.prefix,
            "index_hex_digits": BENCH_INDEX_DIGITS,
            "user_id": 'friend_id_prefix + format(index, "08x")',
            "prefix_from_name": '"U" + sha256(("bench:" + name).encode()).hexdigest()[:24]',
            "residents": len(roster),
        }
    return {
        "kind": "hashed",
        "user_id": '"U" + sha256(f"{name}:{index}".encode()).hexdigest()[:32]',
        "residents": len(roster),
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox")

    @router.get("/channels/{name}/counts")
    async def read_counts(
        name: str, request: Request, user_id: str | None = Query(None)
    ) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        if user_id is not None:
            index = _resident(channel, user_id)
            return {
                "user_id": user_id,
                "friend": channel.is_friend(index),
                "count": channel.counts[index],
            }
        return counts_summary(channel)

    @router.get("/channels/{name}/friend-ids")
    async def read_friend_ids(
        name: str,
        request: Request,
        after: str | None = Query(None),
        limit: int = Query(1000, ge=1, le=MAX_PAGE),
    ) -> dict[str, Any]:
        channel = get_channel(_state(request), name)
        start = 0 if not after else _resident(channel, after) + 1
        indexes = list(islice(channel.friend_indexes(start), limit))
        user_ids = [channel.roster[i] for i in indexes]
        more = bool(indexes) and next(channel.friend_indexes(indexes[-1] + 1), None) is not None
        return {
            "user_ids": user_ids,
            "next": user_ids[-1] if more else None,
            "formula": formula(channel),
        }

    return router
