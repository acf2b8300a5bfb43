"""LINE insight for messages sent with ``customAggregationUnits`` (statistics per unit).

``GET /v2/bot/insight/message/event/aggregation?customAggregationUnit=U&from=yyyyMMdd&to=
yyyyMMdd`` answers in LINE's shape (``overview.uniqueImpression``, ``uniqueClick``,
``uniqueMediaPlayed``, ``uniqueMediaPlayed100Percent``; ``messages`` per bubble; ``clicks``),
every number below 20 as ``null`` as LINE does (zero too).

Simulated residents open what they receive: resident ``i`` of a channel opens the messages of
unit ``U`` when ``draw(seed, U, i) < open_rate`` and taps a link in them when the draw is
``< click_rate`` (so every clicker is an opener). ``draw`` (``bucket_of``) hashes the seed,
the unit and the resident index to ``[0, 1)``: the same resident and unit always draw the
same, whatever the order of sends. ``PUT /sandbox/channels/{name}/insight`` sets
``open_rate``, ``click_rate`` and ``seed``; rates apply to everything already delivered too.

Counting is compact, so a bench channel with a million recipients stays cheap: per unit a
bitmap of residents already counted (1 bit each; a resident counts once per unit, on the JST
day of their first delivery of it) and, per JST day, a histogram of the residents' draws in
``BUCKETS`` buckets. The rates are multiples of ``1 / BUCKETS`` (rounded down), so a query is a
sum over buckets: no per-resident work after delivery. ``delivery.accept`` calls ``record``.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from line_sandbox.channels import get_channel
from line_sandbox.errors import Detail, LineApiError
from line_sandbox.pipeline import CallContext, Outcome, run_call
from line_sandbox.store import JST, Channel, SandboxState

BUCKETS = 1000
NULL_BELOW = 20
MAX_SPAN_DAYS = 30
DEFAULT_OPEN_RATE = 0.6
DEFAULT_CLICK_RATE = 0.15
DEFAULT_SEED = "todoke"
UNIT_RE = re.compile(r"[A-Za-z0-9_]{1,30}")
DATE_RE = re.compile(r"[0-9]{8}")
_LOW32 = 0xFFFFFFFF


def unit_key(seed: str, unit: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{unit}".encode()).digest()[:8], "big")


def bucket_of(key: int, index: int) -> int:
    """The draw of resident ``index`` for a unit (``unit_key``) as a bucket ``0..BUCKETS-1``:
    CPython's hash of the tuple ``(key, index)`` (integers and tuples of them are never salted,
    so it is the same in every process), scaled from its low 32 bits."""
    return ((hash((key, index)) & _LOW32) * BUCKETS) >> 32


@dataclass
class UnitStats:
    """One unit of one channel: who was counted, and their draws per JST day."""

    key: int
    seen: bytearray = field(default_factory=bytearray)
    days: dict[str, array[int]] = field(default_factory=dict)
    #: most message objects one request of this unit carried (the ``messages`` array)
    bubbles: int = 0


@dataclass
class ChannelInsight:
    open_rate: float = DEFAULT_OPEN_RATE
    click_rate: float = DEFAULT_CLICK_RATE
    seed: str = DEFAULT_SEED
    units: dict[str, UnitStats] = field(default_factory=dict)


class InsightStore:
    """Insight state of every channel of one sandbox, by channel id."""

    def __init__(self) -> None:
        self.channels: dict[str, ChannelInsight] = {}

    def of(self, channel: Channel) -> ChannelInsight:
        found = self.channels.get(channel.channel_id)
        if found is None:
            found = self.channels[channel.channel_id] = ChannelInsight()
        return found


_STORES: WeakKeyDictionary[SandboxState, InsightStore] = WeakKeyDictionary()


def store_of(state: SandboxState) -> InsightStore:
    found = _STORES.get(state)
    if found is None:
        found = _STORES[state] = InsightStore()
    return found


def record(
    state: SandboxState, channel: Channel, units: list[str], recipients: list[int], bubbles: int
) -> None:
    """Count one accepted request's recipients under its aggregation unit (if any)."""
    if not units or not recipients:
        return
    insight = store_of(state).of(channel)
    unit = units[0]
    stats = insight.units.get(unit)
    if stats is None:
        stats = insight.units[unit] = UnitStats(unit_key(insight.seed, unit))
    stats.bubbles = max(stats.bubbles, bubbles)
    day = state.clock.now().astimezone(JST).strftime("%Y%m%d")
    histogram = stats.days.get(day)
    if histogram is None:
        histogram = stats.days[day] = array("I", bytes(4 * BUCKETS))
    seen, key = stats.seen, stats.key
    need = (max(recipients) >> 3) + 1
    if len(seen) < need:
        seen.extend(bytes(need - len(seen)))
    low = _LOW32
    for index in recipients:  # bucket_of, inlined: this loop runs once per recipient
        byte, bit = index >> 3, 1 << (index & 7)
        if seen[byte] & bit:
            continue
        seen[byte] |= bit
        histogram[((hash((key, index)) & low) * BUCKETS) >> 32] += 1


def _nullable(value: int) -> int | None:
    return None if value < NULL_BELOW else value


def _parse_day(raw: str | None, name: str) -> date:
    if raw is None:
        raise LineApiError(
            400, "The request parameter has 1 error(s)", [Detail("must not be null", name)]
        )
    if DATE_RE.fullmatch(raw) is None:
        raise LineApiError(
            400, "The request parameter has 1 error(s)", [Detail("Invalid date format", name)]
        )
    try:
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError as exc:
        raise LineApiError(
            400, "The request parameter has 1 error(s)", [Detail("Invalid date format", name)]
        ) from exc


def aggregation(ctx: CallContext) -> Outcome:
    unit = ctx.query.get("customAggregationUnit")
    if unit is None or UNIT_RE.fullmatch(unit) is None:
        raise LineApiError(
            400,
            "The request parameter has 1 error(s)",
            [Detail(f"Must match {UNIT_RE.pattern}", "customAggregationUnit")],
        )
    start = _parse_day(ctx.query.get("from"), "from")
    end = _parse_day(ctx.query.get("to"), "to")
    if end < start or end - start > timedelta(days=MAX_SPAN_DAYS):
        raise LineApiError(
            400,
            "The request parameter has 1 error(s)",
            [Detail(f"to must be from .. from + {MAX_SPAN_DAYS} days", "to")],
        )
    insight = store_of(ctx.state).of(ctx.channel)
    stats = insight.units.get(unit)
    opened = clicked = 0
    bubbles = 0
    if stats is not None:
        bubbles = stats.bubbles
        open_cut = int(insight.open_rate * BUCKETS)
        click_cut = int(insight.click_rate * BUCKETS)
        first, last = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
        for day, histogram in stats.days.items():
            if first <= day <= last:
                opened += sum(histogram[:open_cut])
                clicked += sum(histogram[:click_cut])
    return Outcome(
        200,
        {
            "overview": {
                "uniqueImpression": _nullable(opened),
                "uniqueClick": _nullable(clicked),
                "uniqueMediaPlayed": None,
                "uniqueMediaPlayed100Percent": None,
            },
            "messages": [
                {
                    "seq": seq,
                    "impression": _nullable(opened),
                    "uniqueImpression": _nullable(opened),
                    "mediaPlayed": None,
                    "mediaPlayed25Percent": None,
                    "mediaPlayed50Percent": None,
                    "mediaPlayed75Percent": None,
                    "mediaPlayed100Percent": None,
                    "uniqueMediaPlayed": None,
                    "uniqueMediaPlayed25Percent": None,
                    "uniqueMediaPlayed50Percent": None,
                    "uniqueMediaPlayed75Percent": None,
                    "uniqueMediaPlayed100Percent": None,
                }
                for seq in range(1, bubbles + 1)
            ],
            "clicks": [],
        },
    )


class InsightSettings(BaseModel):
    """``PUT /sandbox/channels/{name}/insight``: how simulated residents behave."""

    model_config = ConfigDict(extra="forbid")

    open_rate: float = Field(DEFAULT_OPEN_RATE, ge=0, le=1)
    click_rate: float = Field(DEFAULT_CLICK_RATE, ge=0, le=1)
    seed: str = Field(DEFAULT_SEED, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _clickers_open(self) -> InsightSettings:
        if self.click_rate > self.open_rate:
            raise ValueError("click_rate must not exceed open_rate (a clicker has opened)")
        return self


def _view(insight: ChannelInsight) -> dict[str, Any]:
    return {
        "open_rate": insight.open_rate,
        "click_rate": insight.click_rate,
        "seed": insight.seed,
        "units": len(insight.units),
    }


def build_router() -> APIRouter:
    router = APIRouter()

    async def route(request: Request) -> Response:
        return await run_call(request, "insight_aggregation", aggregation, has_body=False)

    router.add_route(
        "/v2/bot/insight/message/event/aggregation",
        route,
        methods=["GET"],
        include_in_schema=False,
    )

    @router.get("/sandbox/channels/{name}/insight")
    async def read_settings(name: str, request: Request) -> dict[str, Any]:
        state: SandboxState = request.app.state.sandbox
        return _view(store_of(state).of(get_channel(state, name)))

    @router.put("/sandbox/channels/{name}/insight")
    async def write_settings(name: str, body: InsightSettings, request: Request) -> dict[str, Any]:
        """Set the open and click rates (apply to past deliveries as well) and the seed
        (applies to units first counted after the change)."""
        state: SandboxState = request.app.state.sandbox
        insight = store_of(state).of(get_channel(state, name))
        insight.open_rate, insight.click_rate, insight.seed = (
            body.open_rate,
            body.click_rate,
            body.seed,
        )
        return _view(insight)

    return router
