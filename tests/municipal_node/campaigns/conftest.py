"""Campaign tests run on the dispatch rig (REAL hub, LINE sandbox and node webhook on
loopback; the dispatcher and the scheduler driven round by round with the test's clock)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from municipal_node.applications.models import Application, ApplicationChannel
from municipal_node.audit.models import AuditEntry
from municipal_node.scheduler.runner import Scheduler
from municipal_node.settings import NodeSettings
from municipal_node.tenants.models import Tenant
from tests.municipal_node.dispatch.conftest import Rig, rig, user
from tests.municipal_node.helpers import NOW, TENANT, make_notice

__all__ = ["rig"]


@pytest.fixture
def node_settings(node_settings: NodeSettings) -> NodeSettings:
    """Cheap staff passwords (the role tests sign staff in)."""
    return node_settings.model_copy(
        update={
            "staff_password_time_cost": 1,
            "staff_password_memory_kib": 1024,
            "staff_password_parallelism": 1,
        }
    )


PUBLIC_URL = "https://todoke.city.yatomi.example"
OPENS = NOW + timedelta(days=10)  # 2026-04-11 09:00 JST
CLOSES = NOW + timedelta(days=40)  # 2026-05-11 09:00 JST


def window_notice(**changes: Any) -> dict[str, Any]:
    """A notice with an application window (action.opens / action.closes)."""
    action = {
        "opens": OPENS.isoformat().replace("+00:00", "Z"),
        "closes": CLOSES.isoformat().replace("+00:00", "Z"),
        "url": "https://www.example.lg.jp/genkyo",
    }
    return make_notice(action=action, expires=(NOW + timedelta(days=60)).isoformat(), **changes)


async def set_public_url(rig: Rig, url: str | None = PUBLIC_URL) -> None:
    async with rig.node.sessions() as session:
        await session.execute(
            update(Tenant).where(Tenant.code == TENANT).values(public_base_url=url)
        )
        await session.commit()


def scheduler_of(rig: Rig, **options: Any) -> Scheduler:
    from municipal_node.scheduler.runner import SchedulerOptions

    return Scheduler(
        sessions=rig.node.sessions,
        sealer=rig.node.sealer,
        clock=rig.node.clock,
        options=SchedulerOptions(**options),
    )


async def apply(rig: Rig, campaign_id: int, *, user_index: int | None = None,
                resident_id: str | None = None) -> None:  # fmt: skip
    now = rig.node.clock.now()
    async with rig.node.sessions() as session:
        session.add(
            Application(
                tenant_code=TENANT, campaign_id=campaign_id,
                line_user_id=None if user_index is None else user(user_index),
                resident_id=resident_id,
                channel=ApplicationChannel.ONLINE if resident_id is None
                else ApplicationChannel.COUNTER,
                applied_at=now, receipt_no=secrets.token_hex(6), answers_sealed=None,
                created_at=now,
            )
        )  # fmt: skip
        await session.commit()


async def texts_of(rig: Rig, index: int) -> list[str]:
    return [str(m["messages"][0].get("text")) for m in await rig.inbox(index)]


async def audit_actions(rig: Rig) -> list[str]:
    async with rig.node.sessions() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
