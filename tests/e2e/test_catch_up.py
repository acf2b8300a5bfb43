"""A node offline while 500 notices are published catches up in seq order, verifies every one,
sends each relevant one exactly once, and applies a revocation published while it was away.

Real processes: LINE sandbox, hub and node (``todoke … serve``), operated through the CLI
(``connect_tenant`` registers the subscriber at the hub and gives the node its credential).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from contracts.jws import SignedEnvelope
from line_sandbox.residents import simulated_user_id
from municipal_node.db.engine import sync_url
from municipal_node.relay.models import StoredNotice
from tests.e2e.conftest import CHANNEL, TENANT, Federation, connect_tenant
from tests.e2e.helpers import PUBLISH, inbox_counts, signed, wait_until, write_residents
from todoke.commands.keys import write_private_key
from todoke.demo.processes import run_cli

pytestmark = pytest.mark.e2e

TOTAL = 500
REVOKE_AFTER = 250
SINGLE_PARENTS = range(0, 4)  # linked friends in single-parent households: the audience
OTHERS = range(4, 12)  # linked friends in other households


def population(path: Path) -> None:
    rows = []
    for index in [*SINGLE_PARENTS, *OTHERS]:
        household = "single_parent;child_rearing" if index in SINGLE_PARENTS else "elderly"
        births = "2016-05-01" if index in SINGLE_PARENTS else ""
        rows.append(
            (f"R{index:05d}", household, births, "弥富", "", simulated_user_id(CHANNEL, index))
        )
    write_residents(path, rows)


def notice(index: int, now: datetime) -> dict[str, Any]:
    """Every 10th notice is for single parents here; the rest are for other places, drills,
    or an audience nobody here is in."""
    ident = _ulid()
    kind = index % 10
    return {
        "schema": "todoke.notice/1",
        "publisher": "gov-cfa",
        "notice_id": ident,
        "document_id": ident,
        "revision": 1,
        "msg_type": "Alert",
        "status": "Exercise" if kind == 2 else "Actual",
        "sent": now.isoformat(),
        "effective": now.isoformat(),
        "expires": (now + timedelta(days=30)).isoformat(),
        "category": "benefit",
        "program": {"code": "jido-fuyo-teate", "name": "児童扶養手当"},
        "area": ["13"] if kind == 1 else (["23235"] if index % 20 == 0 else ["00"]),
        "audience": {"household": ["single_parent" if kind in (0, 2) else "pregnant"]},
        "content": {"ja": {"headline": f"お知らせ {index}", "body": "詳しくはリンク先へ。"}},
    }


def _ulid() -> str:
    from ulid import ULID

    return str(ULID())


def test_an_offline_node_catches_up_on_500_notices_and_a_revocation(
    federation: Federation, tmp_path: Path, second_database_url: str
) -> None:
    fed = federation
    fed.start("sandbox")
    hub = fed.start("hub")
    population(tmp_path / "residents.csv")
    connect_tenant(fed, tmp_path / "residents.csv", friends=12)
    assert fed.node is not None
    fed.node.stop()  # the node goes offline (SIGTERM)
    fed.services.remove(fed.node)
    fed.node = None

    old_key, old_kid, new_kid = fed.key("gov-cfa"), "gov-cfa/t1", "gov-cfa/t2"
    new_key = tmp_path / "keys" / "gov-cfa-t2.pem"
    client = httpx.Client(base_url=hub.url, timeout=30)

    def publish(envelope: SignedEnvelope) -> dict[str, Any]:
        response = client.post(
            "/graphql", json={"query": PUBLISH, "variables": {"envelope": envelope.model_dump()}}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()["data"]["publishNotice"]
        return result

    for index in range(TOTAL):
        if index == REVOKE_AFTER:
            run_cli(["hub", "revoke-key", "--kid", old_kid], env=fed.hub_env)
            refused = publish(signed(notice(index, _now()), old_key, old_kid))
            assert (refused["__typename"], refused["code"]) == ("PublishRejected", "KEY_REVOKED")
            jwk = write_private_key(new_key)
            run_cli(
                ["hub", "add-publisher", "--id", "gov-cfa", "--kid", new_kid,
                 "--public-key", json.dumps(jwk), "--area", "00",
                 "--category", "benefit", "--category", "procedure", "--valid-days", "30"],
                env=fed.hub_env,
            )  # fmt: skip
        key, kid = (old_key, old_kid) if index < REVOKE_AFTER else (new_key, new_kid)
        accepted = publish(signed(notice(index, _now()), key, kid))
        assert accepted["__typename"] == "PublishAccepted", accepted
        assert accepted["seq"] == index + 1
    client.close()

    fed.start("node")
    fed_for_us = [i for i in range(TOTAL) if i % 10 != 1]
    relevant = [i for i in range(TOTAL) if i % 10 == 0]

    def caught_up() -> bool:
        states = [item["state"] for item in fed.node_status()]
        return len(states) == len(fed_for_us) and set(states) <= {"done", "skipped"}

    wait_until("the node to catch up and send", caught_up, timeout=180, interval=0.5)

    # verified all: no rejection, every notice of ours stored, in seq order
    assert fed.node is not None
    rejections = httpx.get(
        f"{fed.node.url}/api/tenants/{TENANT}/rejections",
        headers={"Authorization": f"Bearer {fed.admin_token}"},
        timeout=30,
    ).json()
    assert rejections == []
    engine = create_engine(sync_url(second_database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(StoredNotice.seq, StoredNotice.kid, StoredNotice.state).order_by(
                    StoredNotice.id
                )
            ).all()
    finally:
        engine.dispose()
    assert [row.seq for row in rows] == [i + 1 for i in fed_for_us]  # committed in seq order
    assert {row.kid for row in rows if row.seq <= REVOKE_AFTER} == {old_kid}
    assert {row.kid for row in rows if row.seq > REVOKE_AFTER} == {new_kid}
    by_seq = {item["seq"]: item for item in fed.node_status()}
    assert all(by_seq[i + 1]["state"] == "done" for i in relevant)
    assert all(by_seq[i + 1]["state"] == "skipped" for i in fed_for_us if i % 10 == 2)

    # each relevant resident got each relevant notice exactly once; nobody else got anything
    counts = inbox_counts(fed, [simulated_user_id(CHANNEL, i) for i in [*SINGLE_PARENTS, *OTHERS]])
    for index in SINGLE_PARENTS:
        assert counts[simulated_user_id(CHANNEL, index)] == len(relevant)
    assert sum(counts.values()) == len(relevant) * len(SINGLE_PARENTS)
    headlines = [
        message["messages"][0]
        for message in fed.sandbox_get(
            f"/sandbox/channels/{CHANNEL}/inbox?user_id={simulated_user_id(CHANNEL, 0)}"
        )["messages"]
        if message["endpoint"] != "reply"  # not the greeting on follow
    ]
    assert len({json.dumps(h, sort_keys=True) for h in headlines}) == len(relevant)

    # the node's view of the key set carries the revocation
    view = json.loads(run_cli(["node", "keyset", "--tenant", TENANT], env=fed.node_env).stdout)
    keys = {key["kid"]: key for key in view["keys"]}
    assert keys[old_kid]["revoked_at"] is not None
    assert keys[new_kid]["revoked_at"] is None


def _now() -> datetime:
    return datetime.now(UTC)
