"""Signed delivery reports from a campaign sent for real, submitted to the REAL hub's
``submitReport`` (compact JWS, subscriber credential, node key registered as ``node_jwk``) and
read back from its ``deliveryReports``: small cells withheld, nothing resent when unchanged,
a change resent, a key the hub does not know refused and recorded."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from contracts.report import Report
from municipal_node.audit.models import AuditEntry
from municipal_node.db.engine import unit_of_work
from municipal_node.reports.keys import ensure_node_key
from municipal_node.reports.models import DeliveryReport
from municipal_node.reports.service import ReportSetupError, build_reports, submit_changed
from municipal_node.reports.task import ReportTask
from municipal_node.tenants.service import load_config
from tests.municipal_node.conftest import ENCRYPTION_KEY
from tests.municipal_node.dispatch.conftest import Rig
from tests.municipal_node.helpers import TENANT
from tests.municipal_node.kpis.conftest import (
    FRIENDS,
    LATE,
    Sent,
    expected_opens,
    open_recipients,
    reminder_recipients,
    send_campaign,
)
from todoke.commands.node import node_group

QUERY = """
query Reports($publisher: String!, $noticeId: String!) {
  deliveryReports(publisher: $publisher, noticeId: $noticeId) {
    phases {
      phase
      municipalities {
        municipality asOf suppressed
        counts { targeted sent failed blocked opened clicked applied }
      }
    }
  }
}
"""
RESIDENT_ID = re.compile(r"U[0-9a-f]{32}|R0[0-9]{2}")


async def _register_key(rig: Rig, second_database_url: str) -> dict[str, str]:
    """``todoke node report-key`` then the hub operator registering its output."""
    env = {
        "TODOKE_NODE_DATABASE_URL": rig.node.settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    result: Result = await asyncio.to_thread(
        CliRunner().invoke, node_group, ["report-key", "--tenant", TENANT], env=env
    )
    assert result.exit_code == 0, result.output
    jwk: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(jwk) == {"kty", "crv", "x"}
    again: Result = await asyncio.to_thread(
        CliRunner().invoke, node_group, ["report-key", "--tenant", TENANT], env=env
    )
    assert json.loads(again.stdout.strip().splitlines()[-1]) == jwk  # no second key
    await _set_hub_jwk(second_database_url, jwk)
    return jwk


async def _set_hub_jwk(second_database_url: str, jwk: dict[str, str]) -> None:
    from hub.db import create_engine, create_sessionmaker
    from hub.subscribers.models import Subscriber

    engine = create_engine(second_database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await session.execute(
                update(Subscriber).where(Subscriber.municipality == TENANT).values(node_jwk=jwk)
            )
    finally:
        await engine.dispose()


async def _hub_view(rig: Rig, sent: Sent) -> dict[str, dict[str, Any]]:
    response = await rig.http.post(
        f"{rig.hub.url}/graphql",
        json={"query": QUERY, "variables": {"publisher": "gov-cfa", "noticeId": sent.notice_id}},
    )
    body = response.json()
    assert "errors" not in body, body
    out: dict[str, dict[str, Any]] = {}
    for phase in body["data"]["deliveryReports"]["phases"]:
        [mine] = phase["municipalities"]
        assert mine["municipality"] == TENANT
        out[phase["phase"]] = mine
    return out


async def _task(rig: Rig) -> ReportTask:
    return ReportTask(
        sessions=rig.node.sessions,
        sealer=rig.node.sealer,
        settings=rig.node.settings,
        clock=rig.node.clock,
    )


async def _click(rig: Rig, sent: Sent, phase: str, times: int) -> None:
    for _ in range(times):
        response = await rig.http.get(
            f"{rig.node_server.url}/c/{TENANT}/{sent.campaign_id}/{phase}"
        )
        assert response.status_code == 302


async def test_reports_reach_the_hub_suppressed_and_only_when_changed(
    rig: Rig, tmp_path: Path, second_database_url: str
) -> None:
    sent = await send_campaign(rig, tmp_path)
    await _click(rig, sent, "open", 12)
    await _click(rig, sent, "reminder", 3)
    task = await _task(rig)
    async with httpx.AsyncClient(timeout=30) as http:
        assert await task.run_tenant(TENANT, http) is None  # no node key yet: skipped
    assert task.status[TENANT].startswith("skipped")

    await _register_key(rig, second_database_url)
    async with httpx.AsyncClient(timeout=30) as http:
        first = await task.run_tenant(TENANT, http)
    assert first is not None and (first.built, first.submitted, first.errors) == (3, 3, [])

    view = await _hub_view(rig, sent)
    assert set(view) == {"single", "open", "reminder"}
    single = view["single"]
    assert single["counts"] == {
        "targeted": FRIENDS, "sent": FRIENDS, "failed": 0, "blocked": 0,
        "opened": expected_opens(sent.unit("notice"), list(range(FRIENDS))),
        "clicked": 0, "applied": 0,
    }  # fmt: skip
    opened = view["open"]
    # blocked = 5 is withheld; sent would give it away (80 - 0 - sent), so it is withheld too
    assert opened["suppressed"] == ["sent", "blocked"]
    assert opened["counts"] == {
        "targeted": FRIENDS, "sent": None, "failed": 0, "blocked": None,
        "opened": expected_opens(sent.unit("open"), open_recipients()),
        "clicked": 12, "applied": 25,
    }  # fmt: skip
    reminder = view["reminder"]
    reminder_opens = expected_opens(sent.unit("reminder"), reminder_recipients())
    assert reminder["counts"]["opened"] == reminder_opens
    # 3 taps are withheld; so are opens LINE itself withholds (< 20)
    assert reminder["suppressed"] == (["clicked"] if reminder_opens else ["opened", "clicked"])
    assert reminder["counts"]["targeted"] == len(reminder_recipients())
    assert reminder["counts"]["applied"] == len(LATE)

    async with httpx.AsyncClient(timeout=30) as http:
        second = await task.run_tenant(TENANT, http)
    assert second is not None and (second.submitted, second.unchanged) == (0, 3)

    await _click(rig, sent, "reminder", 9)  # 12 taps now: published
    rig.node.clock.set(rig.node.clock.now() + timedelta(minutes=5))
    async with httpx.AsyncClient(timeout=30) as http:
        third = await task.run_tenant(TENANT, http)
    assert third is not None and (third.submitted, third.unchanged) == (1, 2)
    view = await _hub_view(rig, sent)
    assert view["reminder"]["counts"]["clicked"] == 12
    assert view["reminder"]["suppressed"] == ([] if reminder_opens else ["opened"])

    async with rig.node.sessions() as session:
        rows = list(await session.scalars(select(DeliveryReport)))
        audits = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "report.submit"))
        )
    assert {(r.phase, r.failures) for r in rows} == {("single", 0), ("open", 0), ("reminder", 0)}
    assert [a.count for a in audits] == [3, 1]


async def test_reports_carry_no_resident_identifier_and_validate(rig: Rig, tmp_path: Path) -> None:
    sent = await send_campaign(rig, tmp_path)
    async with rig.node.sessions() as session:
        built = await build_reports(
            session, tenant_code=TENANT, now=rig.node.clock.now(), insight=None
        )
    assert {b.report.phase.value for b in built} == {"single", "open", "reminder"}
    for item in built:
        payload = json.dumps(item.report.to_payload())
        assert RESIDENT_ID.search(payload) is None
        Report.model_validate(item.report.to_payload())  # the contract's own checks
        # LINE could not be asked: opened is withheld, never guessed
        assert item.report.counts.opened is None and "opened" in item.report.suppressed
    assert sent.notice_id in {b.report.notice.notice_id for b in built}


async def test_a_key_the_hub_does_not_know_is_refused_and_recorded(
    rig: Rig, tmp_path: Path, second_database_url: str
) -> None:
    await send_campaign(rig, tmp_path)
    await _register_key(rig, second_database_url)
    async with rig.node.sessions() as session:
        before = await load_config(session, TENANT, sealer=rig.node.sealer)
    assert before is not None and before.node_kid is not None
    async with unit_of_work(rig.node.sessions) as session:  # rotated, not registered again
        await ensure_node_key(
            session, sealer=rig.node.sealer, code=TENANT, now=rig.node.clock.now(), rotate=True
        )
        config = await load_config(session, TENANT, sealer=rig.node.sealer)
    assert config is not None and config.node_kid is not None
    assert config.node_kid != before.node_kid
    assert config.node_private_key != before.node_private_key
    async with httpx.AsyncClient(timeout=30) as http:
        summary = await submit_changed(
            rig.node.sessions, config=config, http=http, now=rig.node.clock.now(), insight=None
        )
    assert (summary.submitted, summary.rejected) == (0, 3)
    async with rig.node.sessions() as session:
        rows = list(await session.scalars(select(DeliveryReport)))
    assert {r.failures for r in rows} == {1}
    assert all((r.last_error or "").startswith("BAD_SIGNATURE") for r in rows)
    assert all(r.digest is None for r in rows)


async def test_without_hub_credential_or_key_it_says_what_to_do(rig: Rig) -> None:
    async with rig.node.sessions() as session:
        config = await load_config(session, TENANT, sealer=rig.node.sealer)
    assert config is not None
    async with httpx.AsyncClient() as http:
        with pytest.raises(ReportSetupError, match="report-key"):
            await submit_changed(
                rig.node.sessions, config=config, http=http, now=rig.node.clock.now(), insight=None
            )


async def test_a_refused_credential_stops_the_round_and_records_nothing(
    rig: Rig, tmp_path: Path, second_database_url: str
) -> None:
    await send_campaign(rig, tmp_path)
    await _register_key(rig, second_database_url)
    async with rig.node.sessions() as session:
        config = await load_config(session, TENANT, sealer=rig.node.sealer)
    assert config is not None
    wrong = replace(config, hub_credential="not-the-credential")
    async with httpx.AsyncClient(timeout=30) as http:
        summary = await submit_changed(
            rig.node.sessions, config=wrong, http=http, now=rig.node.clock.now(), insight=None
        )
    assert summary.submitted == 0 and len(summary.errors) == 1
    assert "credential" in summary.errors[0]
    async with rig.node.sessions() as session:
        assert list(await session.scalars(select(DeliveryReport))) == []
