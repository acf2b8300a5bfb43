"""``todoke demo``: the whole federation on loopback, on SQLite, in a scratch folder."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from line_sandbox.residents import simulated_user_id
from municipal_node.clock import FileClock
from todoke.commands.keys import write_private_key
from todoke.demo.campaign import (
    SIM_START,
    CampaignContext,
    configure_liff,
    run_campaign,
    write_clock,
)
from todoke.demo.notices import JST, genkyo_todoke_notice, iji_teate_notice
from todoke.demo.population import PopulationSummary, write_population
from todoke.demo.processes import Service, run_cli, start_service

TENANT_CODE = "23235"
TENANT_NAME = "弥富市"
CHANNEL = "yatomi"
HOUSEHOLD_LABELS = {
    "single_parent": "ひとり親",
    "child_rearing": "子育て",
    "pregnant": "妊娠中",
    "elderly": "高齢",
    "disability": "障害",
    "none": "その他",
}


class DemoError(click.ClickException):
    pass


@dataclass
class DemoOptions:
    workdir: Path
    households: int
    linked_share: float
    unlinked_friends: int
    serve: bool
    timeout: float


def _say(message: str) -> None:
    click.echo(message)


def _wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise DemoError(f"{what}: {timeout:.0f} 秒待っても終わりませんでした / timed out")


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.workdir = options.workdir
        self.services: list[Service] = []
        self.admin_token = secrets.token_urlsafe(24)
        self.channel_secret = secrets.token_hex(16)
        self.channel_token = secrets.token_urlsafe(32)
        # one simulated clock for the three processes and the node's CLI (the demo only)
        self.clock_file = self.workdir / "clock.json"
        self.sandbox_env = {"TODOKE_SANDBOX_CLOCK_FILE": str(self.clock_file)}
        self.hub_env = {
            "TODOKE_HUB_CLOCK_FILE": str(self.clock_file),
            "TODOKE_HUB_DATABASE_URL": f"sqlite:///{self.workdir / 'hub.db'}",
            "TODOKE_HUB_HUB_ID": "aichi",
            "TODOKE_HUB_ROOT_KEY_FILE": str(self.workdir / "keys" / "hub-root.pem"),
        }
        self.node_env = {
            "TODOKE_NODE_DATABASE_URL": f"sqlite:///{self.workdir / 'node.db'}",
            "TODOKE_NODE_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "TODOKE_NODE_ADMIN_TOKEN": self.admin_token,
            "TODOKE_NODE_POLL_INTERVAL_SECONDS": "0.5",
            "TODOKE_NODE_CLOCK_FILE": str(self.clock_file),
        }

    # --- set-up -------------------------------------------------------------------------
    def prepare(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "keys").mkdir(parents=True)
        write_clock(self.clock_file, SIM_START)
        _say(f"作業フォルダ / scratch folder: {self.workdir}")
        _say(
            f"模擬時計 / simulated clock: {SIM_START:%Y-%m-%d %H:%M} JST から "
            f"({self.clock_file.name}; 3 つのプロセスが共有 / shared by the three processes)"
        )

    def now(self) -> datetime:
        return FileClock(self.clock_file).now()

    def make_keys(self) -> dict[str, Path]:
        keys = {}
        for name in ("hub-root", "gov-cfa", "pref-23"):
            path = self.workdir / "keys" / f"{name}.pem"
            jwk = write_private_key(path)
            (self.workdir / "keys" / f"{name}.jwk.json").write_text(json.dumps(jwk), "utf-8")
            keys[name] = path
        _say("鍵を作成しました / keys created: hub root, gov-cfa, pref-23")
        return keys

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Service:
        service = start_service(name, args, env=env, workdir=self.workdir)
        self.services.append(service)
        _say(f"起動 / started {name:<8} {service.url}")
        return service

    def register_publishers(self) -> None:
        keys = self.workdir / "keys"
        run_cli(["hub", "migrate"], env=self.hub_env)
        publishers = [
            ("gov-cfa", "こども家庭庁", "gov-cfa/2026a", ["00"], ["benefit", "procedure"]),
            ("pref-23", "愛知県", "pref-23/2026a", ["23"], ["benefit", "procedure", "health"]),
        ]
        for publisher_id, name, kid, areas, categories in publishers:
            args = ["hub", "add-publisher", "--id", publisher_id, "--name", name, "--kid", kid]
            args += ["--public-key", str(keys / f"{publisher_id}.jwk.json"), "--valid-days", "365"]
            # valid from before the simulated start (the CLI itself runs on real time)
            args += ["--not-before", (SIM_START - timedelta(days=1)).isoformat()]
            for area in areas:
                args += ["--area", area]
            for category in categories:
                args += ["--category", category]
            run_cli(args, env=self.hub_env)
        _say(
            "発行元を登録しました / publishers registered: gov-cfa (こども家庭庁), pref-23 (愛知県)"
        )

    def register_tenant(self, hub: Service, sandbox: Service) -> None:
        root = run_cli(["hub", "root-key"], env=self.hub_env).stdout.strip()
        root_file = self.workdir / "keys" / "hub-root.pub.json"
        root_file.write_text(root, "utf-8")
        run_cli(["node", "migrate"], env=self.node_env)
        run_cli(
            [
                "node", "add-tenant", "--code", TENANT_CODE, "--name", TENANT_NAME,
                "--hub-url", hub.url, "--hub-root-key", str(root_file),
                "--line-channel-secret", self.channel_secret,
                "--line-channel-token", self.channel_token,
                "--line-api-base-url", sandbox.url,
            ],
            env=self.node_env,
        )  # fmt: skip
        # the node's report signing key, registered with the subscriber (delivery reports)
        node_jwk = run_cli(["node", "report-key", "--tenant", TENANT_CODE], env=self.node_env)
        subscriber = run_cli(
            [
                "hub", "add-subscriber", "--municipality", TENANT_CODE, "--name", TENANT_NAME,
                "--node-public-key", node_jwk.stdout.strip(),
            ],
            env=self.hub_env,
        ).stdout  # fmt: skip
        credential = json.loads(subscriber)["credential"]
        run_cli(
            ["node", "set-hub-credential", "--tenant", TENANT_CODE, "--credential", credential],
            env=self.node_env,
        )
        _say(f"自治体を登録しました / tenant registered: {TENANT_NAME} ({TENANT_CODE})")

    @property
    def population_csv(self) -> Path:
        return self.workdir / "residents-23235.csv"

    def import_population(self) -> PopulationSummary:
        csv_path = self.population_csv
        summary = write_population(
            csv_path,
            households=self.options.households,
            today=self.now().astimezone(JST).date(),
            linked_share=self.options.linked_share,
            user_id_for=lambda n: simulated_user_id(CHANNEL, n),
        )
        run_cli(
            ["node", "import-residents", "--tenant", TENANT_CODE, str(csv_path)], env=self.node_env
        )
        _say(
            f"住民データを取り込みました / residents imported: {summary.households:,} 世帯 "
            f"(ひとり親 {summary.by_household['single_parent']:,}, LINE 連携済み {summary.linked:,})"
        )
        return summary

    def make_friends(self, sandbox: Service, node: Service, linked: int) -> int:
        friends = linked + self.options.unlinked_friends
        with httpx.Client(base_url=sandbox.url, timeout=120) as client:
            created = client.post(
                "/sandbox/channels",
                json={
                    "name": CHANNEL,
                    "channel_secret": self.channel_secret,
                    "channel_access_token": self.channel_token,
                    "webhook_url": f"{node.url}/line/{TENANT_CODE}/webhook",
                },
            )
            created.raise_for_status()
            client.post(
                f"/sandbox/channels/{CHANNEL}/friends", json={"count": friends}
            ).raise_for_status()
            follow = client.post(f"/sandbox/channels/{CHANNEL}/follow", json={"all": True})
            follow.raise_for_status()
        _say(f"LINE 友だち追加 / sandbox residents followed the account: {friends:,} 人")
        return friends

    # --- the relay ------------------------------------------------------------------------
    def publish(self, hub: Service, publisher: str, notice: dict[str, Any]) -> str:
        notice_file = self.workdir / f"notice-{publisher}.json"
        notice_file.write_text(json.dumps(notice, ensure_ascii=False, indent=2), "utf-8")
        key = self.workdir / "keys" / f"{publisher}.pem"
        result = run_cli(
            [
                "publish",
                str(notice_file),
                "--key",
                str(key),
                "--kid",
                f"{publisher}/2026a",
                "--hub",
                hub.url,
            ],
            env={},
        )
        _say(
            f"発行 / published by {publisher}: {notice['content']['ja']['headline']}  ({result.stdout.strip()})"
        )
        return str(notice["notice_id"])

    def node_status(self, node: Service) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{node.url}/api/tenants/{TENANT_CODE}/notices",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )
        response.raise_for_status()
        items = response.json()
        if not isinstance(items, list):
            raise DemoError(f"unexpected node status answer: {items!r}")
        return items

    def wait_relayed(self, node: Service, notice_ids: list[str]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}

        def done() -> bool:
            for item in self.node_status(node):
                if item["notice_id"] in notice_ids and item["state"] in {
                    "done",
                    "rejected",
                    "skipped",
                }:
                    found[item["notice_id"]] = item
            return len(found) == len(notice_ids)

        _wait_for("通知の配信 / relay", done, self.options.timeout)
        return [found[notice_id] for notice_id in notice_ids]


def print_table(item: dict[str, Any]) -> None:
    _say("")
    _say(
        f"■ {item['headline']}  [{item['publisher']} / {item['notice_id']}]  状態: {item['state']}"
    )
    _say(f"  {'世帯の種類 / household':<26}{'対象':>8}{'送信済':>8}{'失敗':>6}")
    for kind, counts in sorted(item["by_household"].items()):
        label = f"{HOUSEHOLD_LABELS.get(kind, kind)} ({kind})"
        _say(f"  {label:<26}{counts['targeted']:>8,}{counts['sent']:>8,}{counts['failed']:>6,}")
    _say(f"  {'合計 / total':<26}{item['targeted']:>8,}{item['sent']:>8,}{item['failed']:>6,}")


def run_demo(options: DemoOptions) -> None:
    demo = Demo(options)
    demo.prepare()
    started = time.monotonic()
    background: ThreadPoolExecutor | None = None
    try:
        demo.make_keys()
        demo.register_publishers()
        sandbox = demo.start("sandbox", ["sandbox", "serve"], demo.sandbox_env)
        # the campaign buttons' LIFF URLs and the form's LIFF SDK: the sandbox stands in for
        # https://liff.line.me and LINE's CDN
        demo.node_env["TODOKE_NODE_LIFF_URL_BASE"] = f"{sandbox.url}/liff-url"
        demo.node_env["TODOKE_NODE_LIFF_SDK_URL"] = f"{sandbox.url}/liff/edge/2/sdk.js"
        hub = demo.start("hub", ["hub", "serve"], demo.hub_env)
        demo.register_tenant(hub, sandbox)
        population = demo.import_population()
        node = demo.start("node", ["node", "serve"], demo.node_env)
        demo.make_friends(sandbox, node, population.linked)
        # the campaign's LIFF settings (a CLI run) while the first two notices are relayed
        background = ThreadPoolExecutor(max_workers=1)
        liff_setup = background.submit(
            configure_liff, sandbox.url, CHANNEL, TENANT_CODE, demo.node_env, node.url
        )
        now = demo.now()
        ids = [
            demo.publish(hub, "gov-cfa", genkyo_todoke_notice(now)),
            demo.publish(hub, "pref-23", iji_teate_notice(now)),
        ]
        results = demo.wait_relayed(node, ids)
        for item in results:
            print_table(item)
        check_against_population(results, population)
        check_against_sandbox(sandbox, results)
        run_campaign(
            CampaignContext(
                workdir=demo.workdir,
                clock_file=demo.clock_file,
                sandbox=sandbox,
                hub=hub,
                node=node,
                node_env=demo.node_env,
                admin_token=demo.admin_token,
                tenant_code=TENANT_CODE,
                channel=CHANNEL,
                population_csv=demo.population_csv,
                publish=lambda publisher, notice: demo.publish(hub, publisher, notice),
                say=_say,
                timeout=options.timeout,
                liff_setup=liff_setup,
            )
        )
        _say("")
        _say(f"所要時間 / elapsed: {time.monotonic() - started:.1f} 秒")
        _say("見る場所 / where to look:")
        _say(f"  住民のトーク画面 / residents' chats : {sandbox.url}/sandbox/chat")
        _say(f"  ハブ GraphQL / hub GraphQL          : {hub.url}/graphql")
        _say(f"  自治体ノード / node status API       : {node.url}/api/tenants/{TENANT_CODE}/notices"
             f"  (Authorization: Bearer {demo.admin_token})")  # fmt: skip
        _say(f"  ログとデータ / logs and databases    : {options.workdir}")
        if options.serve:
            _say("起動したままにします。Ctrl-C で終了 / serving until Ctrl-C")
            while all(service.process.poll() is None for service in demo.services):
                time.sleep(1)
            raise DemoError(
                "a service stopped unexpectedly; see the logs in " + str(options.workdir)
            )
    except KeyboardInterrupt:
        _say("終了します / stopping")
    finally:
        if background is not None:
            background.shutdown(wait=True)
        for service in reversed(demo.services):
            service.stop()


def check_against_population(results: list[dict[str, Any]], population: PopulationSummary) -> None:
    """The single-parent notice must reach every linked single-parent friend and nobody else."""
    expected = population.linked_by_household["single_parent"]
    genkyo = results[0]
    if genkyo["targeted"] != expected or genkyo["sent"] != expected:
        raise DemoError(
            f"現況届: 対象 {genkyo['targeted']} / 送信 {genkyo['sent']} が、"
            f"連携済みひとり親世帯 {expected} と一致しません / does not match the population"
        )
    _say(
        f"\n確認 / check: 現況届 は連携済みのひとり親世帯 {expected} 件すべてに、1 回ずつ届きました。"
    )


def check_against_sandbox(sandbox: Service, results: list[dict[str, Any]]) -> None:
    stats = httpx.get(f"{sandbox.url}/sandbox/channels/{CHANNEL}/stats", timeout=30).json()
    sent_total = sum(int(item["sent"]) for item in results)
    # replies (the 受信設定 greeting on follow) go to one user each and are not notices
    replies = int(stats["requests_by_endpoint"].get("reply", 0))
    delivered = int(stats["delivered_recipients"]) - replies
    if delivered != sent_total:
        raise DemoError(f"LINE sandbox received {delivered} deliveries, node reports {sent_total}")
    _say(f"確認 / check: LINE サンドボックスの受信数 {delivered:,} = ノードの送信数 {sent_total:,}")
