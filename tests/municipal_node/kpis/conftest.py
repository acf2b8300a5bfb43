"""A campaign rig for KPI and report tests: the dispatch rig (REAL hub, LINE sandbox and node
webhook on loopback) with one clock for node, hub and sandbox, so LINE insight's JST days and
the hub's ``as_of`` check agree with the node's time; and a campaign sent for real:

- 80 single parents linked to LINE users 0..79, all friends; the notice's own send;
- the open phase planned for all 80, then users 70..74 block the account before it is sent;
- 25 applications (users 0..24) two days later; the reminder a week after opening goes to
  the 50 friends who have not applied; 10 more applications (users 25..34) after it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from line_sandbox.insight import BUCKETS, DEFAULT_OPEN_RATE, bucket_of, unit_key
from municipal_node.applications.models import Application, ApplicationChannel
from municipal_node.campaigns.models import Campaign, CampaignPhase
from municipal_node.clock import FixedClock
from municipal_node.dispatch.jobs import insert_send_job
from municipal_node.dispatch.keys import aggregation_unit_for
from tests.municipal_node.dispatch.conftest import Rig, rig, user  # noqa: F401
from tests.municipal_node.helpers import (
    CHANNEL,
    CHANNEL_SECRET,
    CHANNEL_TOKEN,
    TENANT,
    LiveServer,
    make_notice,
    write_csv,
)

SPEC = {"household": ["single_parent"]}
FRIENDS = 80
BLOCKED = list(range(70, 75))
EARLY = list(range(25))  # apply after opening, before the reminder
LATE = list(range(25, 35))  # apply after the reminder


class SharedClock:
    """The sandbox's clock reading the node's FixedClock (monotonic stays real)."""

    def __init__(self, clock: FixedClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def hub_clock(clock: FixedClock) -> FixedClock:
    return clock


@pytest.fixture
def live_sandbox(clock: FixedClock) -> Iterator[LiveServer]:
    import httpx

    from line_sandbox.app import create_app as create_sandbox
    from line_sandbox.settings import SandboxSettings

    server = LiveServer(create_sandbox(SandboxSettings(), clock=SharedClock(clock))).start()
    try:
        httpx.post(
            f"{server.url}/sandbox/channels",
            json={
                "name": CHANNEL,
                "channel_secret": CHANNEL_SECRET,
                "channel_access_token": CHANNEL_TOKEN,
            },
            timeout=30,
        ).raise_for_status()
        yield server
    finally:
        server.stop()


def expected_opens(unit: str, indexes: list[int]) -> int | None:
    """How many of ``indexes`` open ``unit`` (the sandbox's documented draw); None below 20,
    as LINE answers (the unit depends on the random notice id, so a 50-person send may)."""
    key = unit_key("todoke", unit)
    cut = int(DEFAULT_OPEN_RATE * BUCKETS)
    opened = sum(1 for i in indexes if bucket_of(key, i) < cut)
    return None if opened < 20 else opened


@dataclass
class Sent:
    notice: dict[str, Any]
    campaign_id: int
    opened_at: datetime
    reminded_at: datetime

    @property
    def notice_id(self) -> str:
        return str(self.notice["notice_id"])

    def unit(self, phase: str) -> str:
        return aggregation_unit_for(TENANT, "gov-cfa", self.notice_id, phase)


async def apply(rig: Rig, campaign_id: int, indexes: list[int]) -> None:  # noqa: F811
    now = rig.node.clock.now()
    async with rig.node.sessions() as session:
        for index in indexes:
            session.add(
                Application(
                    tenant_code=TENANT, campaign_id=campaign_id, line_user_id=user(index),
                    resident_id=None, channel=ApplicationChannel.ONLINE, applied_at=now,
                    receipt_no=secrets.token_hex(6), answers_sealed=None, created_at=now,
                )
            )  # fmt: skip
        await session.commit()


async def _phase(rig: Rig, sent_campaign: int, notice_id: str, phase: str, **extra: Any) -> None:  # noqa: F811
    now = rig.node.clock.now()
    messages = [{"type": "text", "text": f"【{phase}】申請の受付中です"}]
    async with rig.node.sessions() as session:
        job_id = await insert_send_job(
            session, tenant_code=TENANT, publisher="gov-cfa", notice_id=notice_id, phase=phase,
            spec=SPEC, messages=messages, send_until=now + timedelta(days=30), now=now, **extra,
        )  # fmt: skip
        assert job_id is not None
        session.add(
            CampaignPhase(
                campaign_id=sent_campaign, tenant_code=TENANT, phase=phase, enabled=True,
                send_at=now, messages=messages, state="sent", job_id=job_id, updated_at=now,
            )
        )  # fmt: skip
        await session.commit()


async def send_campaign(rig: Rig, tmp_path: Path) -> Sent:  # noqa: F811
    rows = [(f"R{i:03d}", "single_parent", "2019-05-01", "東町", "", user(i)) for i in range(80)]
    await rig.node.import_csv(write_csv(tmp_path / "residents.csv", rows))
    await rig.befriend(FRIENDS)
    notice = make_notice(audience=SPEC)
    await rig.relay(notice)
    await rig.dispatcher().run_once()  # the notice's own send: 80
    clock = rig.node.clock
    opened_at = clock.now()
    async with rig.node.sessions() as session:
        campaign = Campaign(
            tenant_code=TENANT, publisher="gov-cfa", notice_id=str(notice["notice_id"]),
            title="児童扶養手当 現況届", opens_at=opened_at - timedelta(hours=1),
            closes_at=opened_at + timedelta(days=14), rule_id=None, spec=SPEC,
            quiet_start="21:00", quiet_end="08:00", skip_holidays=False, baseline_rate=0.2,
            form=[], state="active", created_by="test", created_at=opened_at,
            updated_at=opened_at,
        )  # fmt: skip
        session.add(campaign)
        await session.commit()
        campaign_id = campaign.id
    await _phase(rig, campaign_id, str(notice["notice_id"]), "open")
    await rig.dispatcher().plan_round()
    await rig.unfollow(BLOCKED)  # after planning: dropped at send time
    await rig.dispatcher().run_once()
    clock.set(opened_at + timedelta(days=2))
    await apply(rig, campaign_id, EARLY)
    clock.set(opened_at + timedelta(days=7))
    reminded_at = clock.now()
    await _phase(
        rig, campaign_id, str(notice["notice_id"]), "reminder", exclude_campaign_id=campaign_id
    )
    await rig.dispatcher().run_once()
    clock.set(opened_at + timedelta(days=8))
    await apply(rig, campaign_id, LATE)
    return Sent(notice, campaign_id, opened_at, reminded_at)


def open_recipients() -> list[int]:
    return [i for i in range(FRIENDS) if i not in BLOCKED]


def reminder_recipients() -> list[int]:
    return [i for i in open_recipients() if i not in EARLY]
