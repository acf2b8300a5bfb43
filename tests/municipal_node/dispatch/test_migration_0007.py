"""Migration 0007 turns the outbox of an older node into send jobs it can finish sending."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta

import httpx
from alembic import command
from sqlalchemy import create_engine, text

from municipal_node.clock import FixedClock
from municipal_node.crypto import Sealer
from municipal_node.db.engine import create_engine as create_async
from municipal_node.db.engine import session_factory, sync_url
from municipal_node.db.migrate import alembic_config, upgrade_to_head
from municipal_node.dispatch.worker import Dispatcher, LineOptions
from municipal_node.relay.schemas import envelope_dict
from tests.municipal_node.conftest import ENCRYPTION_KEY
from tests.municipal_node.dispatch.conftest import user
from tests.municipal_node.helpers import (
    CHANNEL,
    CHANNEL_SECRET,
    CHANNEL_TOKEN,
    NOW,
    TENANT,
    LiveServer,
    make_notice,
    root_key_entry,
    signed,
)


def legacy_rows(database_url: str, sandbox_url: str, sealer: Sealer) -> dict[str, str]:
    """A tenant, a notice and two batches as the 0001 dispatcher left them (one sent, one
    pending)."""
    notice = make_notice(audience={})
    envelope = envelope_dict(signed(notice))
    engine = create_engine(sync_url(database_url))
    stamp = NOW - timedelta(minutes=1)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO tenants (code, name, hub_url, hub_root_keys, "
                "line_channel_secret_sealed, line_access_token_sealed, line_api_base_url, "
                "feed_cursor, created_at, updated_at) VALUES (:c, '弥富市', 'http://127.0.0.1:9', "
                ":keys, :s, :t, :u, 1, :now, :now)"
            ),
            {
                "c": TENANT,
                "keys": json.dumps([root_key_entry()]),
                "s": sealer.seal_text(CHANNEL_SECRET, aad=f"tenant:{TENANT}:line_channel_secret"),
                "t": sealer.seal_text(CHANNEL_TOKEN, aad=f"tenant:{TENANT}:line_access_token"),
                "u": sandbox_url,
                "now": stamp,
            },
        )
        db.execute(
            text(
                "INSERT INTO notices (tenant_code, publisher, notice_id, document_id, revision, "
                "msg_type, status, category, program_code, headline, effective, expires, seq, "
                "kid, digest, received_at, verified_at, envelope, receipt, state, targeted, "
                "updated_at) VALUES (:t, 'gov-cfa', :n, :n, 1, 'Alert', 'Actual', 'benefit', "
                "'jido-fuyo-teate', '現況届', :now, :exp, 1, 'gov-cfa/2026a', 'd', :now, :now, "
                ":env, '{}', 'sending', 4, :now)"
            ),
            {
                "t": TENANT,
                "n": notice["notice_id"],
                "now": stamp,
                "exp": NOW + timedelta(days=30),
                "env": json.dumps(envelope),
            },
        )
        for batch_no, state, ids in (
            (0, "sent", [user(0), user(1)]),
            (1, "pending", [user(2), user(3)]),
        ):
            db.execute(
                text(
                    "INSERT INTO outbox_batches (tenant_code, publisher, notice_id, batch_no, "
                    "user_ids, recipient_count, retry_key, state, attempts, household_counts, "
                    "created_at, updated_at) VALUES (:t, 'gov-cfa', :n, :b, :ids, 2, :k, :s, 0, "
                    "'{\"none\": 2}', :now, :now)"
                ),
                {
                    "t": TENANT,
                    "n": notice["notice_id"],
                    "b": batch_no,
                    "ids": json.dumps(ids),
                    "k": f"00000000-0000-4000-8000-00000000000{batch_no}",
                    "s": state,
                    "now": stamp,
                },
            )
        for index in range(4):
            db.execute(
                text(
                    "INSERT INTO line_friends (tenant_code, user_id, is_friend, last_event_ms, "
                    "updated_at) VALUES (:t, :u, TRUE, 1, :now)"
                ),
                {"t": TENANT, "u": user(index), "now": stamp},
            )
    engine.dispose()
    return notice


async def test_batches_of_an_older_node_become_a_job_that_finishes_sending(
    database_url: str, live_sandbox: LiveServer
) -> None:
    sealer = Sealer(base64.b64decode(ENCRYPTION_KEY))
    command.upgrade(alembic_config(database_url), "0006")
    legacy_rows(database_url, live_sandbox.url, sealer)
    upgrade_to_head(database_url)

    engine = create_engine(sync_url(database_url))
    with engine.connect() as db:
        [job] = db.execute(
            text("SELECT id, phase, state, targeted, batches, messages FROM send_jobs")
        ).all()
        linked = db.execute(text("SELECT DISTINCT job_id FROM outbox_batches")).scalars().all()
    engine.dispose()
    assert (job.phase, job.state, job.targeted, job.batches) == ("notice", "sending", 4, 2)
    assert linked == [job.id]
    messages = job.messages if isinstance(job.messages, list) else json.loads(job.messages)
    assert messages[0]["text"].startswith("【弥富市】現況届の受付が始まりました")

    httpx.post(
        f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/friends", json={"count": 4}
    ).raise_for_status()
    async_engine = create_async(database_url)
    try:
        dispatcher = Dispatcher(
            tenant_code=TENANT,
            sessions=session_factory(async_engine),
            sealer=sealer,
            clock=FixedClock(datetime(2026, 4, 1, tzinfo=UTC)),
            line=LineOptions(timeout_seconds=5, attempts=3, backoff_base_seconds=0.01),
            rng=random.Random(1),
        )
        report = await dispatcher.run_once()
    finally:
        await async_engine.dispose()
    assert report.sent_batches == 1
    counts = httpx.get(f"{live_sandbox.url}/sandbox/channels/{CHANNEL}/counts").json()
    assert (counts["recipients"], counts["requests"]) == (2, 1)  # only the pending batch
    exchanges = httpx.get(f"{live_sandbox.url}/sandbox/exchanges").json()
    [request] = [e for e in exchanges if e["path"].endswith("/multicast")]
    assert request["request_headers"]["x-line-retry-key"] == (
        "00000000-0000-4000-8000-000000000001"
    )  # the key the batch was planned with
