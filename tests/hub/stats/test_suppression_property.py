"""Property: whatever reports the nodes send, the hub's view never reveals a withheld count.

Hypothesis generates reports of up to four municipalities over the four phases (counts that
obey ``targeted = sent + failed + blocked``, the worst case for disclosure; several reports per
key with earlier, equal and later ``as_of``), suppresses them as a node does
(``contracts.report.suppress_counts``), submits them through ``submitReport`` and reads
``deliveryReports``. For every example:

1. the view holds, per (municipality, phase), exactly the published counts of the report the
   replacement rule keeps (later ``as_of`` wins; same counts again is a duplicate; same
   ``as_of`` with other counts is refused), ``null`` exactly where that report withheld one;
2. every total is a function of the published cells alone: its value is the sum of the
   published cells of its column (``null`` when none), ``withheld`` counts the null cells and
   ``complete`` is true only when there is none. A total that included a withheld cell would
   differ from that sum (a withheld count is >= 1), so the test would fail;
3. hence an observer knows only the published cells, and from them no withheld cell is
   derivable: for each municipality and phase, an exhaustive search over the withheld group
   members (each >= 1, ``targeted = sent + failed + blocked``) finds at least two values for
   every withheld member; ``opened``/``clicked``/``applied`` are in no equation.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.keys import private_key_from_seed, private_key_to_pem, public_jwk
from contracts.report import COUNT_NAMES, GROUP, GROUP_PARTS, GROUP_TOTAL
from hub.app import create_app
from hub.publishers.registry import add_publisher_key
from hub.settings import HubSettings
from hub.subscribers.registry import add_subscriber
from tests.hub.helpers import (
    HUB_ID,
    NOW,
    ROOT_KEY,
    FixedClock,
    HubApi,
    bearer,
    cfa_key,
    make_notice,
    signed,
)
from tests.hub.stats.helpers import AS_OF, report_payload, sign_report, submit, view

MUNICIPALITIES = ("23235", "23100", "23202", "23201")
PHASES = ("preview", "open", "reminder", "single")
KEYS = {m: private_key_from_seed(hashlib.sha256(m.encode()).digest()) for m in MUNICIPALITIES}


class StatsHub:
    """The hub in its own event loop (hypothesis drives a synchronous test)."""

    def __init__(self, settings_: HubSettings) -> None:
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.app = create_app(settings_, clock=FixedClock())
        self.nodes: dict[str, HubApi] = {}
        self.public: HubApi | None = None

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.runner.run(coroutine)

    async def client(self, headers: dict[str, str]) -> HubApi:
        transport = httpx.ASGITransport(app=self.app)
        http = httpx.AsyncClient(transport=transport, base_url="http://hub.test", headers=headers)
        return HubApi(await self.stack.enter_async_context(http))

    async def start(self) -> None:
        await self.stack.enter_async_context(self.app.router.lifespan_context(self.app))
        hub = self.app.state.hub
        credentials = {}
        async with hub.transaction() as session:
            spec = cfa_key()
            await add_publisher_key(
                session,
                publisher_id=spec.publisher,
                name=spec.name,
                kid=spec.kid,
                jwk=spec.jwk,
                areas=spec.areas,
                categories=spec.categories,
                not_before=spec.not_before,
                not_after=spec.not_after,
                now=NOW,
            )
            for municipality, key in KEYS.items():
                registered = await add_subscriber(
                    session,
                    municipality=municipality,
                    name=municipality,
                    node_jwk=public_jwk(key),
                    now=NOW,
                )
                credentials[municipality] = registered.credential
        for municipality, credential in credentials.items():
            self.nodes[municipality] = await self.client(bearer(credential))
        self.public = await self.client({})


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[StatsHub]:
    key_file = tmp_path / "root.pem"
    key_file.write_bytes(private_key_to_pem(ROOT_KEY))
    unlimited = 10**9
    stats_hub = StatsHub(
        HubSettings(
            database_url=database_url,
            hub_id=HUB_ID,
            root_key_file=key_file,
            rate_publish_per_second=unlimited,
            rate_publish_burst=unlimited,
            rate_read_per_second=unlimited,
            rate_read_burst=unlimited,
        )
    )
    stats_hub.run(stats_hub.start())
    try:
        yield stats_hub
    finally:
        stats_hub.run(stats_hub.stack.aclose())
        stats_hub.runner.close()


# --------------------------------------------------------------------------- strategies

part = st.one_of(st.integers(0, 12), st.integers(0, 40))


@st.composite
def raw_counts(draw: st.DrawFn) -> dict[str, int]:
    sent, failed, blocked = draw(part), draw(part), draw(part)
    opened = draw(st.integers(0, sent))
    clicked = draw(st.integers(0, opened))
    return {
        "targeted": sent + failed + blocked,
        "sent": sent,
        "failed": failed,
        "blocked": blocked,
        "opened": opened,
        "clicked": clicked,
        "applied": draw(st.integers(0, 30)),
    }


@dataclass(frozen=True)
class Submission:
    municipality: str
    phase: str
    minute: int  # as_of = AS_OF + minute
    raw: dict[str, int]


submissions = st.lists(
    st.builds(
        Submission,
        municipality=st.sampled_from(MUNICIPALITIES),
        phase=st.sampled_from(PHASES),
        minute=st.integers(0, 3),
        raw=raw_counts(),
    ),
    min_size=1,
    max_size=10,
)


# --------------------------------------------------------------------------- the observer


def derivable(cells: dict[str, int | None]) -> list[str]:
    """Withheld group members an observer can pin from the published ``cells``, by exhaustive
    search (independent of ``contracts.report``): every withheld member is >= 1 and
    ``targeted = sent + failed + blocked``."""
    hidden = [name for name in GROUP if cells[name] is None]
    if not hidden:
        return []
    published = {name: cells[name] for name in GROUP if cells[name] is not None}
    bound = max([2, *(v for v in published.values() if v is not None)]) + 2
    free_parts = [name for name in GROUP_PARTS if name in hidden]
    seen: dict[str, set[int]] = {name: set() for name in hidden}
    # Enumerate the withheld parts; targeted follows from them. When targeted is published the
    # last withheld part follows from it instead (so the search stays small).
    solved = free_parts[-1] if GROUP_TOTAL not in hidden and free_parts else None
    loop = [name for name in free_parts if name != solved]
    for values in itertools.product(range(1, bound + 1), repeat=len(loop)):
        assignment = {**published, **dict(zip(loop, values, strict=True))}
        if solved is not None:
            rest = sum(int(assignment[n]) for n in GROUP_PARTS if n != solved)
            value = int(assignment[GROUP_TOTAL]) - rest
            if value < 1:
                continue
            assignment[solved] = value
        else:
            parts = sum(int(assignment[n]) for n in GROUP_PARTS)
            if GROUP_TOTAL in hidden:
                assignment[GROUP_TOTAL] = parts
            elif parts != assignment[GROUP_TOTAL]:
                continue
        for name in hidden:
            seen[name].add(int(assignment[name]))
    return [name for name in hidden if len(seen[name]) <= 1]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(reports=submissions)
def test_no_withheld_count_is_derivable_from_the_view(
    hub: StatsHub, reports: list[Submission]
) -> None:
    hub.run(check(hub, reports))


async def check(hub: StatsHub, reports: list[Submission]) -> None:
    assert hub.public is not None
    notice = make_notice()
    assert (await hub.public.publish(signed(notice)))["__typename"] == "PublishAccepted"
    notice_id = notice["notice_id"]

    held: dict[tuple[str, str], tuple[int, dict[str, int | None]]] = {}
    for item in reports:
        payload = report_payload(
            municipality=item.municipality,
            publisher="gov-cfa",
            notice_id=notice_id,
            phase=item.phase,
            as_of=AS_OF + timedelta(minutes=item.minute),
            raw=item.raw,
        )
        key: Ed25519PrivateKey = KEYS[item.municipality]
        result = await submit(
            hub.nodes[item.municipality],
            sign_report(payload, key=key, kid=f"muni-{item.municipality}/r1"),
        )
        slot = (item.municipality, item.phase)
        before = held.get(slot)
        if before is None or item.minute > before[0]:
            expected = "STORED" if before is None else "REPLACED"
            assert result.get("outcome") == expected, result
            held[slot] = (item.minute, payload["counts"])
        elif item.minute < before[0]:
            assert result.get("outcome") == "OUTDATED", result
        elif payload["counts"] == before[1]:
            assert result.get("outcome") == "DUPLICATE", result
        else:
            assert result.get("code") == "EQUIVOCATION", result

    page = await view(hub.public, "gov-cfa", notice_id)
    shown = {
        (row["municipality"], phase["phase"]): row
        for phase in page["phases"]
        for row in phase["municipalities"]
    }
    # 1. exactly the kept reports, as published
    assert set(shown) == set(held)
    for slot, (_, published) in held.items():
        assert shown[slot]["counts"] == published
        assert shown[slot]["suppressed"] == [n for n in COUNT_NAMES if published[n] is None]

    for phase in page["phases"]:
        cells = [row["counts"] for row in phase["municipalities"]]
        # 2. totals are functions of the published cells only
        assert phase["totals"]["municipalities"] == len(cells)
        for name in COUNT_NAMES:
            values = [c[name] for c in cells if c[name] is not None]
            withheld = len(cells) - len(values)
            assert phase["totals"][name] == {
                "value": sum(values) if values else None,
                "complete": withheld == 0,
                "withheld": withheld,
            }, (name, phase)
        # 3. nothing withheld can be pinned from the published cells
        for row in phase["municipalities"]:
            assert derivable(row["counts"]) == [], row


@pytest.mark.parametrize(
    ("cells", "pinned"),
    [
        # the only withheld member: targeted - sent - blocked
        ({"targeted": 120, "sent": 105, "failed": None, "blocked": 10}, ["failed"]),
        # two withheld parts that must both be 1
        ({"targeted": 20, "sent": 18, "failed": None, "blocked": None}, ["failed", "blocked"]),
        # targeted withheld alone is the sum of the parts
        ({"targeted": None, "sent": 18, "failed": 10, "blocked": 0}, ["targeted"]),
        # ambiguous: failed + blocked = 5
        ({"targeted": 20, "sent": 15, "failed": None, "blocked": None}, []),
        # ambiguous: targeted and sent withheld together
        ({"targeted": None, "sent": None, "failed": 10, "blocked": 0}, []),
        ({"targeted": 20, "sent": 10, "failed": 10, "blocked": 0}, []),
    ],
)
def test_the_observer_pins_what_can_be_pinned(
    cells: dict[str, int | None], pinned: list[str]
) -> None:
    full = {**cells, "opened": None, "clicked": 0, "applied": 12}
    assert derivable(full) == pinned
