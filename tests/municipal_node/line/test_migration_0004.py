"""Migration 0004 folds the old dedupe table into the inbox: a redelivery of an event seen
before the upgrade is still recognised as a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import MetaData, create_engine, select

from municipal_node.db.engine import sync_url
from municipal_node.db.migrate import alembic_config, upgrade_to_head


def test_seen_event_ids_survive_the_upgrade_as_done_inbox_rows(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0003")
    engine = create_engine(sync_url(database_url))
    at = datetime(2026, 4, 1, tzinfo=UTC)
    try:
        old = MetaData()
        old.reflect(engine, only=["tenants", "line_webhook_events"])
        with engine.begin() as connection:
            connection.execute(
                old.tables["tenants"].insert(),
                {
                    "code": "23235",
                    "name": "弥富市",
                    "hub_url": "http://127.0.0.1:9",
                    "hub_root_keys": [],
                    "line_channel_secret_sealed": b"x",
                    "line_access_token_sealed": b"x",
                    "line_api_base_url": "http://127.0.0.1:9",
                    "feed_cursor": 0,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            connection.execute(
                old.tables["line_webhook_events"].insert(),
                [
                    {"tenant_code": "23235", "webhook_event_id": event_id, "event_type": kind,
                     "received_at": at}
                    for event_id, kind in (("01AAA", "follow"), ("01BBB", "message"))
                ],
            )  # fmt: skip
        upgrade_to_head(database_url)
        new = MetaData()
        new.reflect(engine, only=["line_inbox"])
        inbox = new.tables["line_inbox"]
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    inbox.c.webhook_event_id, inbox.c.type, inbox.c.state, inbox.c.payload
                ).order_by(inbox.c.webhook_event_id)
            ).all()
        assert [tuple(r) for r in rows] == [
            ("01AAA", "follow", "done", {}),
            ("01BBB", "message", "done", {}),
        ]
    finally:
        engine.dispose()
