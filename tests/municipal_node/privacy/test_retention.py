"""Retention: ``todoke node purge [--dry-run]`` and the node's daily run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.app import create_app
from municipal_node.audit.models import AuditEntry
from municipal_node.crypto import Sealer
from municipal_node.dispatch.models import BatchState, OutboxBatch
from municipal_node.line.models import InboxState, LineInboxEvent
from municipal_node.linking.models import CodeState, LinkNonce, RegistrationCode
from municipal_node.privacy.retention import register_retention_policy
from municipal_node.privacy.schedule import RetentionTask
from municipal_node.settings import NodeSettings
from tests.municipal_node.conftest import ENCRYPTION_KEY, Node
from tests.municipal_node.helpers import TENANT, root_key_entry
from tests.municipal_node.privacy.rows import FRIEND, add_other_sealed_rows
from tests.municipal_node.privacy.test_rotate_key import with_db
from todoke.commands.node import node_group

DAY = timedelta(days=1)


def run(database_url: str, *args: str, **extra: str) -> Result:
    env = {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}
    return CliRunner().invoke(node_group, list(args), env={**env, **extra})


async def add_old_and_new_rows(session: AsyncSession, now: datetime) -> None:
    """For every policy one row past its retention and one that must stay."""
    await add_other_sealed_rows(session, Sealer(bytes(range(32))), now - 40 * DAY)
    code = (await session.scalars(select(RegistrationCode))).one()
    code.state, code.used_at = CodeState.USED, now - 100 * DAY
    session.add(
        LinkNonce(
            tenant_code=TENANT,
            nonce_digest="0" * 64,
            user_id=FRIEND,
            code_id=code.id,
            created_at=now - 100 * DAY,
            expires_at=now - 100 * DAY,
        )
    )
    batch = (await session.scalars(select(OutboxBatch))).one()
    session.add(  # still pending: its user ids are needed
        OutboxBatch(
            **{
                c: getattr(batch, c)
                for c in ("job_id", "tenant_code", "publisher", "notice_id", "user_ids")
            },
            batch_no=1,
            recipient_count=1,
            retry_key="00000000-0000-0000-0000-000000000001",
            state=BatchState.PENDING,
            household_counts={},
            created_at=now - 40 * DAY,
            updated_at=now - 40 * DAY,
        )
    )
    for number, (state, age) in enumerate(
        [(InboxState.DONE, 40), (InboxState.DONE, 2), (InboxState.PENDING, 40)]
    ):
        session.add(
            LineInboxEvent(
                tenant_code=TENANT,
                webhook_event_id=f"event-{number}",
                type="message",
                user_id=FRIEND,
                payload={"type": "message", "source": {"userId": FRIEND}},
                received_at=now - age * DAY,
                state=state,
                attempts=1,
                reply={"token": "t", "messages": []} if state == InboxState.DONE else None,
            )
        )
    for age in (6 * 365, 10):
        session.add(
            AuditEntry(tenant_code=TENANT, actor="cli", action="x", at=now - age * DAY, count=1)
        )


async def snapshot(session: AsyncSession) -> dict[str, Any]:
    async def count(model: Any) -> int:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    inbox = {e.webhook_event_id: e for e in await session.scalars(select(LineInboxEvent))}
    batches = {b.batch_no: b for b in await session.scalars(select(OutboxBatch))}
    return {
        "codes": await count(RegistrationCode),
        "nonces": await count(LinkNonce),
        "audit x": int(
            await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "x")
            )
            or 0
        ),
        "payloads": {k: bool(e.payload) for k, e in sorted(inbox.items())},
        "replies": {k: e.reply is not None for k, e in sorted(inbox.items())},
        "batch user ids": {k: b.user_ids for k, b in sorted(batches.items())},
        "batch households": {k: b.households_sealed is not None for k, b in batches.items()},
        "sent counts": {k: b.recipient_count for k, b in sorted(batches.items())},
    }


@pytest.fixture
def populated(database_url: str) -> dict[str, Any]:
    result = run(
        database_url,
        "add-tenant", "--code", TENANT, "--name", "弥富市", "--hub-url", "http://127.0.0.1:9",
        "--hub-root-key", json.dumps(root_key_entry()), "--line-channel-secret", "s",
        "--line-channel-token", "t",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with_db(database_url, lambda s: add_old_and_new_rows(s, datetime.now(UTC)))
    return with_db(database_url, snapshot)


def test_purge_dry_run_counts_then_purge_removes_what_is_past_retention(
    database_url: str, populated: dict[str, Any]
) -> None:
    dry = run(database_url, "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    expected = [
        "audit_log (1827 日 days): 1",
        "line_inbox_payloads (30 日 days): 1",
        "outbox_user_ids (30 日 days): 1",
        "registration_codes (90 日 days): 1",
    ]
    for line in expected:
        assert line in dry.stdout
    assert with_db(database_url, snapshot) == populated

    result = run(database_url, "purge")
    assert result.exit_code == 0, result.output
    assert "削除しました / purged:" in result.stdout
    for line in expected:
        assert line in result.stdout
    after = with_db(database_url, snapshot)
    assert after == {
        **populated,
        "codes": 0,
        "nonces": 0,
        "audit x": 1,
        "payloads": {"event-0": False, "event-1": True, "event-2": True},
        "replies": {"event-0": False, "event-1": True, "event-2": False},
        "batch user ids": {0: [], 1: [FRIEND]},
        "batch households": {0: False, 1: False},
    }

    async def purges(session: AsyncSession) -> list[AuditEntry]:
        query = select(AuditEntry).where(AuditEntry.action == "privacy.purge")
        return list(await session.scalars(query))

    [entry] = with_db(database_url, purges)
    assert (entry.actor, entry.count, entry.tenant_code) == ("cli", 4, None)
    assert entry.detail == {
        "audit_log": 1,
        "line_inbox_payloads": 1,
        "outbox_user_ids": 1,
        "registration_codes": 1,
    }
    again = run(database_url, "purge")
    assert "audit_log (1827 日 days): 0" in again.stdout
    assert "outbox_user_ids (30 日 days): 0" in again.stdout


def test_a_policy_of_zero_days_is_off(database_url: str, populated: dict[str, Any]) -> None:
    result = run(database_url, "purge", TODOKE_NODE_RETENTION_AUDIT_DAYS="0")
    assert result.exit_code == 0, result.output
    assert "audit_log: 無効 / off (0 days)" in result.stdout
    assert with_db(database_url, snapshot)["audit x"] == 2


def test_a_policy_must_name_a_setting() -> None:
    async def nothing(session: AsyncSession, cutoff: datetime, dry_run: bool) -> int:
        return 0

    with pytest.raises(ValueError, match="no field 'retention_things_days'"):
        register_retention_policy("things", "retention_things_days", nothing)


async def test_the_node_purges_on_its_own(node: Node) -> None:
    await node.add_tenant()
    async with node.sessions.begin() as session:
        session.add(
            AuditEntry(
                tenant_code=TENANT, actor="cli", action="x", at=node.clock.now() - 2000 * DAY
            )
        )
    task = RetentionTask(
        sessions=node.sessions, settings=node.settings, clock=node.clock, first_delay_seconds=0
    )
    stop = asyncio.Event()
    running = asyncio.create_task(task.run(stop))
    for _ in range(500):
        if task.runs:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running
    assert (task.runs, task.status) == (1, "ok")
    async with node.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["privacy.purge"]


async def test_a_running_node_has_the_daily_purge(node_settings: NodeSettings) -> None:
    app = create_app(node_settings.model_copy(update={"subscribe": False}))
    async with app.router.lifespan_context(app):
        workers = app.state.node.workers
        assert isinstance(workers.retention, RetentionTask)
