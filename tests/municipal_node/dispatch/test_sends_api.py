"""``/api/tenants/{code}/sends`` and the CLI: what staff see of sends, never another tenant's."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner, Result

from tests.municipal_node.dispatch.conftest import Rig, user
from tests.municipal_node.helpers import ADMIN_TOKEN, CHANNEL, make_notice
from todoke.cli import main as cli

OTHER = "23100"


async def sent_notice(rig: Rig, friends: int = 700) -> dict[str, object]:
    await rig.sandbox_post(f"/sandbox/channels/{CHANNEL}/friends", {"count": friends})
    await rig.add_friends_directly([user(i) for i in range(friends)])
    notice = make_notice(audience={})
    await rig.relay(notice)
    await rig.dispatcher().run_once()
    return notice


async def test_the_sends_list_and_detail_show_state_and_counts(rig: Rig) -> None:
    notice = await sent_notice(rig)
    listed = await rig.api("GET", "/sends")
    assert listed.status_code == 200
    [job] = listed.json()
    assert (job["notice_id"], job["phase"], job["state"], job["targeted"]) == (
        notice["notice_id"],
        "notice",
        "done",
        700,
    )
    assert job["counts"] == {
        "batches": 2,
        "pending": 0,
        "sent": 2,
        "failed": 0,
        "cancelled": 0,
        "recipients_sent": 700,
        "recipients_failed": 0,
        "recipients_cancelled": 0,
        "dropped_at_send": 0,
    }
    assert "messages" not in job
    detail = (await rig.api("GET", f"/sends/{job['id']}")).json()
    assert [m["type"] for m in detail["messages"]] == ["text", "flex"]
    assert detail["spec"] == {}
    assert (await rig.api("GET", "/sends", params={"state": "held"})).json() == []
    bad = await rig.api("GET", "/sends", params={"state": "nonsense"})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "BAD_STATE"


async def test_another_tenants_send_is_not_found_under_this_tenants_path(rig: Rig) -> None:
    await sent_notice(rig, 10)
    await rig.node.add_tenant(code=OTHER)
    [job] = (await rig.api("GET", "/sends")).json()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    base = f"{rig.node_server.url}/api/tenants/{OTHER}"
    response = await rig.http.get(f"{base}/sends/{job['id']}", headers=headers)
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "SEND_NOT_FOUND"
    assert (await rig.http.get(f"{base}/sends", headers=headers)).json() == []
    cancel = await rig.http.post(
        f"{base}/notices/gov-cfa/{job['notice_id']}/cancel", headers=headers, json={"reason": "x"}
    )
    assert cancel.status_code == 404
    missing = await rig.api("GET", "/sends/999999")
    assert missing.status_code == 404
    assert missing.json()["detail"]["message"].startswith("送信 999999 が見つかりません")
    assert (await rig.api("GET", "/sends/abc")).status_code == 422


async def test_the_cli_lists_sends_and_cancels_with_a_reason(rig: Rig) -> None:
    await rig.sandbox_post(f"/sandbox/channels/{CHANNEL}/friends", {"count": 600})
    await rig.add_friends_directly([user(i) for i in range(600)])
    notice = make_notice(audience={})
    await rig.relay(notice)
    await rig.dispatcher().plan_round()
    env = {
        "TODOKE_NODE_DATABASE_URL": rig.node.settings.database_url,
        "TODOKE_NODE_ENCRYPTION_KEY": rig.node.settings.encryption_key.get_secret_value(),
    }
    runner = CliRunner()

    async def invoke(args: list[str]) -> Result:
        return await asyncio.to_thread(runner.invoke, cli, args, env=env)

    listed = await invoke(["node", "sends", "--tenant", "23235", "--json"])
    assert listed.exit_code == 0, listed.output
    [job] = json.loads(listed.output)
    assert (job["state"], job["counts"]["pending"]) == ("sending", 2)
    args = ["node", "cancel-send", "--tenant", "23235", "--publisher", "gov-cfa"]
    no_reason = await invoke([*args, "--notice", str(notice["notice_id"]), "--reason", " "])
    assert no_reason.exit_code != 0 and "取消の理由" in no_reason.output
    done = await invoke(
        [*args, "--notice", str(notice["notice_id"]), "--reason", "テスト送信のため"]
    )
    assert done.exit_code == 0, done.output
    assert "2 pending batch(es) stopped" in done.output
    table = await invoke(["node", "sends", "--tenant", "23235"])
    assert "cancelled" in table.output and "テスト送信のため" in table.output
    unknown = await invoke(["node", "sends", "--tenant", "99999"])
    assert unknown.exit_code != 0
