"""The campaign part of ``todoke demo``: 入学準備金 (就学援助) in simulated time.

The three processes read one clock file (``FileClock`` in each package); this module jumps it
forward. A 入学準備金 notice from 愛知県 with an application window (2027-01-12 08:30 →
2027-02-12 17:15 JST) for ``es1_entrant`` families meets a relay rule with ``campaign: true``,
so the node makes it a campaign with three phases (予告, 受付開始, 締切前リマインド). For each
phase the clock jumps to its ``send_at`` (read from the campaign API) + 1 minute, the demo waits
for the phase's send job, then simulated residents act with seeded rates: they tap the button
the message carries (the node's click counter), apply online with an ID token from the LINE
sandbox (posting the JSON the LIFF page posts), or apply at the counter (CSV import). Opens
come from the sandbox's insight simulation. At the end it prints the node's KPIs per phase,
submits the delivery reports to the hub and prints what the hub publishes, and checks that the
reminder reached nobody who had applied and that every phase was sent exactly once.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from municipal_node.clock import FileClock
from todoke.demo.notices import JST, NYUGAKU_CLOSES, NYUGAKU_PROGRAM, nyugaku_junbikin_notice
from todoke.demo.processes import Service, run_cli

#: where simulated time starts (the demo's clock file is written with it first)
SIM_START = datetime(2026, 12, 1, 9, 0, tzinfo=JST)
#: children entering elementary school in April 2027 (年長 in school year 2026): 学年の 4/1 区切り
ES1_BORN_FROM = date(2020, 4, 2)
ES1_BORN_TO = date(2021, 4, 1)
PHASES = ("preview", "open", "reminder")
PHASE_LABELS = {"preview": "予告", "open": "受付開始", "reminder": "締切前リマインド"}
#: seeded behaviour of the simulated residents (realistic orders of magnitude, not measured)
OPEN_RATE = 0.65  # LINE insight: share of recipients who open a delivered message
OPEN_TAP_RATE = 0.30  # of the open phase's recipients, who tap the button
OPEN_APPLY_RATE = 0.60  # of those who tapped, who apply online
COUNTER_RATE = 0.04  # of the remaining recipients, who apply at the counter instead
REMINDER_TAP_RATE = 0.40
REMINDER_APPLY_RATE = 0.85
BASELINE_RATE = 0.18  # last year's share of the segment that applied in time (paper notices)
SEED = 202701
#: LINE insight withholds counts below 20; fewer households would show no opens at all
MIN_HOUSEHOLDS = 20
#: the node's public URL in the messages. LINE buttons must be https, so the demo plays a
#: TLS-terminating reverse proxy: residents' requests to this origin go to the node's loopback
#: URL (the path is kept). The chat page's buttons (``--serve``) therefore do not open.
LIFF_LABEL = "入学準備金の申請"


class CampaignDemoError(click.ClickException):
    pass


def write_clock(path: Path, at: datetime) -> None:
    """Jump the shared clock to ``at`` (atomically: the services never read half a file)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"at": at.isoformat(), "since": time.time()}), "utf-8")
    os.replace(temporary, path)


def configure_liff(
    sandbox_url: str, channel: str, tenant_code: str, node_env: dict[str, str], public_url: str
) -> str:
    """Register the LIFF app at the sandbox; give the tenant its LIFF settings and public URL
    (the node's own loopback URL: the demo's buttons open from the browser chat)."""
    response = httpx.post(
        f"{sandbox_url}/sandbox/channels/{channel}/liff-apps",
        json={"endpoint_url": f"{public_url}/liff/{tenant_code}"},
        timeout=60,
    )
    if response.status_code != 201:
        raise CampaignDemoError(f"LIFF app: HTTP {response.status_code} {response.text[:300]}")
    app = response.json()
    run_cli(
        [
            "node", "set-liff", "--tenant", tenant_code,
            "--liff-id", app["liff_id"], "--login-channel-id", app["login_channel_id"],
            "--public-url", public_url,
        ],
        env=node_env,
    )  # fmt: skip
    return str(app["liff_id"])


def es1_entrant(births: Iterable[date]) -> bool:
    return any(ES1_BORN_FROM <= born <= ES1_BORN_TO for born in births)


def linked_entrant_households(csv_path: Path) -> dict[str, str]:
    """LINE user id → resident id of every linked household with an ``es1_entrant`` child."""
    found: dict[str, str] = {}
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            births = [date.fromisoformat(v) for v in row["child_birth_dates"].split(";") if v]
            if row["line_user_id"] and es1_entrant(births):
                found[row["line_user_id"]] = row["resident_id"]
    return found


@dataclass
class PhaseRun:
    phase: str
    send_at: datetime
    jumped_to: datetime
    job_id: int
    recipients: set[str] = field(default_factory=set)
    tapped: int = 0
    applied_online: int = 0
    applied_counter: int = 0


@dataclass
class CampaignContext:
    """What the campaign scenario needs from the running demo."""

    workdir: Path
    clock_file: Path
    sandbox: Service
    hub: Service
    node: Service
    node_env: dict[str, str]
    admin_token: str
    tenant_code: str
    channel: str
    population_csv: Path
    publish: Callable[[str, dict[str, Any]], str]
    say: Callable[[str], None]
    timeout: float = 120.0
    #: ``configure_liff`` started earlier in a thread (it only needs the sandbox channel)
    liff_setup: Future[str] | None = None


class CampaignScenario:
    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx
        self.rng = random.Random(SEED)  # noqa: S311 - simulated behaviour, not security
        self.api = httpx.Client(
            base_url=f"{ctx.node.url}/api/tenants/{ctx.tenant_code}",
            headers={"Authorization": f"Bearer {ctx.admin_token}"},
            timeout=60,
        )
        self.sandbox = httpx.Client(base_url=ctx.sandbox.url, timeout=60)
        self.public = httpx.Client(base_url=ctx.node.url, timeout=60, follow_redirects=False)
        self.households = linked_entrant_households(ctx.population_csv)
        self.applied_users: dict[str, datetime] = {}  # user id → when (online or counter)
        self.runs: dict[str, PhaseRun] = {}
        self.campaign_id = 0
        self.notice_id = ""

    def close(self) -> None:
        for client in (self.api, self.sandbox, self.public):
            client.close()

    # --- helpers ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return FileClock(self.ctx.clock_file).now()

    def jump(self, at: datetime) -> None:
        write_clock(self.ctx.clock_file, at)
        self.ctx.say(
            f"  ⏩ 時計を進めます / clock jumps to {at.astimezone(JST):%Y-%m-%d %H:%M} JST"
        )

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.ctx.timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise CampaignDemoError(
            f"{what}: {self.ctx.timeout:.0f} 秒待っても終わりませんでした / timed out"
        )

    def ok(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            raise CampaignDemoError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def campaign(self) -> dict[str, Any]:
        data = self.ok(self.api.get(f"/campaigns/{self.campaign_id}"), "campaign")
        if not isinstance(data, dict):
            raise CampaignDemoError(f"campaign {self.campaign_id}: unexpected answer")
        return data

    # --- set-up ----------------------------------------------------------------------------
    def set_up(self) -> None:
        ctx = self.ctx
        liff_id = (
            ctx.liff_setup.result()
            if ctx.liff_setup is not None
            else configure_liff(
                ctx.sandbox.url, ctx.channel, ctx.tenant_code, ctx.node_env, ctx.node.url
            )
        )
        self.ok(
            self.sandbox.put(
                f"/sandbox/channels/{ctx.channel}/insight",
                json={"open_rate": OPEN_RATE, "click_rate": 0.0, "seed": f"demo-{SEED}"},
            ),
            "insight settings",
        )
        rule = self.ok(
            self.api.post(
                "/relay-rules",
                json={
                    "name": "入学準備金（就学援助）キャンペーン",
                    "program_codes": [NYUGAKU_PROGRAM],
                    "campaign": True,
                },
            ),
            "relay rule",
        )
        ctx.say(
            f"LIFF アプリ {liff_id}、公開URL {ctx.node.url}、配信ルール {rule['id']}（キャンペーン）"
            f"を設定しました / LIFF app, public URL and campaign relay rule set; 年長のお子さんのいる連携済み世帯 / linked "
            f"es1_entrant households: {len(self.households)}"
        )

    def publish(self) -> None:
        notice = nyugaku_junbikin_notice(self.now())
        self.notice_id = self.ctx.publish("pref-23", notice)

        def made() -> bool:
            for item in self.ok(self.api.get("/campaigns"), "campaigns"):
                if item["notice_id"] == self.notice_id:
                    self.campaign_id = int(item["id"])
                    return True
            return False

        self.wait_for("キャンペーンの作成 / campaign creation", made)
        self.ok(
            self.api.put(f"/campaigns/{self.campaign_id}/baseline", json={"rate": BASELINE_RATE}),
            "baseline",
        )
        campaign = self.campaign()
        self.ctx.say(
            f"キャンペーン {self.campaign_id}: 受付 {campaign['opens_at_jst']} 〜 "
            f"{campaign['closes_at_jst']}"
        )
        for phase in campaign["phases"]:
            self.ctx.say(
                f"  {phase['label']:<10} {phase['send_at_jst']}  ({phase['phase']}, {phase['state']})"
            )

    # --- phases ----------------------------------------------------------------------------
    def run_phase(self, phase: str) -> PhaseRun:
        row = next(p for p in self.campaign()["phases"] if p["phase"] == phase)
        if not row["enabled"] or row["state"] != "scheduled":
            raise CampaignDemoError(f"{phase}: 送信予定ではありません / not scheduled: {row}")
        send_at = datetime.fromisoformat(row["send_at"])
        jumped_to = send_at + timedelta(minutes=1)
        self.ctx.say(f"\n▶ {PHASE_LABELS[phase]} ({phase}) — 送信予定 {row['send_at_jst']}")
        self.jump(jumped_to)
        job: dict[str, int] = {}

        def sent() -> bool:
            current = next(p for p in self.campaign()["phases"] if p["phase"] == phase)
            if current["state"] in {"missed", "off", "cancelled"}:
                raise CampaignDemoError(f"{phase}: {current['state']} ({current['reason']})")
            if current["job_id"] is None:
                return False
            job["id"] = int(current["job_id"])
            detail = self.ok(self.api.get(f"/sends/{job['id']}"), "send job")
            if detail["state"] in {"failed", "cancelled", "skipped"}:
                raise CampaignDemoError(f"{phase}: job {detail['state']} ({detail['reason']})")
            return bool(detail["state"] == "done")

        self.wait_for(f"{PHASE_LABELS[phase]} の送信 / sending {phase}", sent)
        run = PhaseRun(phase, send_at, jumped_to, job["id"])
        self.runs[phase] = run
        detail = self.ok(self.api.get(f"/sends/{run.job_id}"), "send job")
        self.ctx.say(
            f"  送信 / sent: 対象 {detail['targeted']:,} 人、送信 {detail['counts']['recipients_sent']:,} 人"
            f"（送信ジョブ {run.job_id}）"
        )
        return run

    def inboxes(self) -> dict[str, list[dict[str, Any]]]:
        """Each candidate household's received requests (the sandbox's record)."""
        found = {}
        for user_id in self.households:
            data = self.ok(
                self.sandbox.get(
                    f"/sandbox/channels/{self.ctx.channel}/inbox", params={"user_id": user_id}
                ),
                "inbox",
            )
            found[user_id] = data["messages"]
        return found

    def received_in(self, start: datetime, end: datetime | None) -> dict[str, list[dict[str, Any]]]:
        """Per candidate, the multicasts received in [start, end) (sandbox time)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for user_id, items in self.inboxes().items():
            for item in items:
                received = datetime.fromisoformat(item["received_at"])
                if item["endpoint"] != "multicast":
                    continue  # phase sends are multicasts; anything else is not a phase's
                if received >= start and (end is None or received < end):
                    found.setdefault(user_id, []).append(item)
        return found

    def click_url(self, requests: list[dict[str, Any]], phase: str) -> str:
        """The button URL of ``phase`` in what the resident received."""
        text = json.dumps([item["messages"] for item in requests], ensure_ascii=False)
        pattern = re.escape(
            f"{self.ctx.node.url}/c/{self.ctx.tenant_code}/{self.campaign_id}/{phase}"
        )
        match = re.search('"(' + pattern + ')"', text)
        if match is None:
            seen = [
                (item["endpoint"], item["received_at"], item["request_id"], item["retry_key"])
                for item in requests
            ]
            raise CampaignDemoError(
                f"{phase}: メッセージにボタンがありません / no button URL in {seen} {text[:300]}"
            )
        return match.group(1)

    def tap(self, url: str) -> str:
        """GET the button's URL: the click counter's 302 to the form's LIFF URL, which LINE
        (the sandbox's ``/liff-url``) opens; the application page."""
        answer = self.public.get(url.removeprefix(self.ctx.node.url))
        liff = str(answer.headers.get("location", ""))
        if answer.status_code != 302 or not liff.startswith(f"{self.ctx.sandbox.url}/liff-url/"):
            raise CampaignDemoError(
                f"click {url}: {answer.status_code} {liff or answer.text[:200]}"
            )
        opened = self.sandbox.get(liff.removeprefix(self.ctx.sandbox.url))
        target = str(opened.headers.get("location", ""))
        if opened.status_code != 302 or not target.startswith(f"{self.ctx.node.url}/liff/"):
            raise CampaignDemoError(f"LIFF URL {liff}: {opened.status_code} {opened.text[:200]}")
        return target

    def apply_online(self, user_id: str, page: str) -> None:
        shown = self.public.get(page.removeprefix(self.ctx.node.url))
        if shown.status_code != 200:
            raise CampaignDemoError(f"application page: {shown.status_code} {shown.text[:200]}")
        token = self.ok(
            self.sandbox.post(
                f"/sandbox/channels/{self.ctx.channel}/id-token", json={"user_id": user_id}
            ),
            "ID token",
        )["id_token"]
        answer = self.public.post(
            f"/liff/{self.ctx.tenant_code}/campaigns/{self.campaign_id}/applications",
            json={"id_token": token, "answers": {}},
            headers={"Origin": self.ctx.node.url},
        )
        receipt = self.ok(answer, "application")
        if answer.status_code != 201 or not receipt:
            raise CampaignDemoError(f"application: {answer.status_code} {answer.text[:200]}")
        self.applied_users[user_id] = self.now()

    def residents_act(self, run: PhaseRun, tap_rate: float, apply_rate: float) -> None:
        received = self.received_in(run.jumped_to - timedelta(minutes=1), None)
        run.recipients = set(received)
        for user_id in sorted(run.recipients):
            if self.rng.random() >= tap_rate:
                continue
            run.tapped += 1
            page = self.tap(self.click_url(received[user_id], run.phase))
            if self.rng.random() < apply_rate:
                self.apply_online(user_id, page)
                run.applied_online += 1
        self.ctx.say(
            f"  住民の行動 / residents: 受信 {len(run.recipients):,} 人、ボタンをタップ "
            f"{run.tapped:,} 人、オンライン申請 {run.applied_online:,} 人"
        )

    def counter_applicants(self, run: PhaseRun, until: datetime) -> None:
        """A few recipients apply at the counter; staff import them as CSV before ``until``."""
        start = run.jumped_to.astimezone(JST).date() + timedelta(days=1)
        days = max(1, (until.astimezone(JST).date() - start).days)
        lines = ["resident_id,applied_at"]
        users: list[tuple[str, datetime]] = []
        for user_id in sorted(run.recipients - set(self.applied_users)):
            if self.rng.random() < COUNTER_RATE:
                day = start + timedelta(days=self.rng.randrange(days))
                at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=JST)
                lines.append(f"{self.households[user_id]},{at.isoformat()}")
                users.append((user_id, at))
        self.jump(until)
        path = self.ctx.workdir / "counter-applicants.csv"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        # the node's import API (what `todoke node import-applicants FILE` does, without
        # starting one more CLI process)
        self.ok(
            self.api.post(
                f"/campaigns/{self.campaign_id}/applicants.csv",
                content=path.read_bytes(),
                headers={"Content-Type": "text/csv"},
            ),
            "counter applicants",
        )
        for user_id, at in users:
            self.applied_users.setdefault(user_id, at)
        run.applied_counter = len(users)
        self.ctx.say(f"  窓口申請の取り込み / counter applicants imported: {len(users):,} 人")

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        ctx = self.ctx
        ctx.say(
            "\n━━ 入学準備金キャンペーン（模擬時間） / school-entry aid campaign, simulated time ━━"
        )
        if len(self.households) < MIN_HOUSEHOLDS:
            ctx.say(
                f"年長のお子さんのいる連携済み世帯が {len(self.households)} しかないため省略します"
                f"（{MIN_HOUSEHOLDS} 以上必要、--households 3000 以上で足ります） / skipped: too few "
                "linked es1_entrant households for LINE insight; use --households ≥ 3000"
            )
            return
        started = time.monotonic()
        self.set_up()
        self.publish()
        preview = self.run_phase("preview")
        preview.recipients = set(self.received_in(preview.jumped_to - timedelta(minutes=1), None))
        opened = self.run_phase("open")
        self.residents_act(opened, OPEN_TAP_RATE, OPEN_APPLY_RATE)
        reminder_at = datetime.fromisoformat(
            next(p for p in self.campaign()["phases"] if p["phase"] == "reminder")["send_at"]
        )
        self.counter_applicants(opened, reminder_at - timedelta(days=1))
        applied_before_reminder = set(self.applied_users)
        reminder = self.run_phase("reminder")
        self.residents_act(reminder, REMINDER_TAP_RATE, REMINDER_APPLY_RATE)
        self.jump(NYUGAKU_CLOSES + timedelta(hours=1))
        self.check(applied_before_reminder)
        kpis = self.ok(self.api.get(f"/campaigns/{self.campaign_id}/kpis"), "KPIs")
        print_kpis(kpis, ctx.say)
        self.report_to_hub(kpis)
        ctx.say(
            f"キャンペーン部分の所要時間 / campaign part: {time.monotonic() - started:.1f} 秒"
            f"（模擬時間 / simulated: {SIM_START:%Y-%m-%d} → {self.now().astimezone(JST):%Y-%m-%d}）"
        )

    def check(self, applied_before_reminder: set[str]) -> None:
        """Fail loudly unless every phase went out exactly once and the reminder skipped
        everybody who had applied (online, or at the counter with a linked record)."""
        say = self.ctx.say
        windows = [(self.runs[p].jumped_to - timedelta(minutes=1), p) for p in PHASES]
        # phase sends are multicasts; other requests (replies, pushes) are counted apart
        per_phase: dict[str, dict[str, list[str]]] = {p: {} for p in PHASES}
        others: Counter[str] = Counter()
        for user_id, items in self.inboxes().items():
            for item in items:
                received = datetime.fromisoformat(item["received_at"])
                phase = None
                for start, name in windows:
                    if received >= start:
                        phase = name
                if phase is not None and item["endpoint"] != "multicast":
                    others[f"{phase}/{item['endpoint']}"] += 1
                elif phase is not None:
                    seen = f"{item['request_id']} {item['received_at']}"
                    per_phase[phase].setdefault(user_id, []).append(seen)
        jobs = self.ok(self.api.get("/sends", params={"limit": 500}), "sends")
        for phase in PHASES:
            twice = {u: seen for u, seen in per_phase[phase].items() if len(seen) > 1}
            if twice:
                raise CampaignDemoError(
                    f"{phase}: {len(twice)} 人に 2 回以上届きました / sent twice: {twice}"
                )
            mine = [j for j in jobs if j["notice_id"] == self.notice_id and j["phase"] == phase]
            if len(mine) != 1:
                raise CampaignDemoError(f"{phase}: 送信ジョブが {len(mine)} 件 / {len(mine)} jobs")
            if mine[0]["counts"]["recipients_sent"] != len(per_phase[phase]):
                raise CampaignDemoError(
                    f"{phase}: ノードの送信数 {mine[0]['counts']['recipients_sent']} と LINE サンドボックスの"
                    f"受信数 {len(per_phase[phase])} が違います / node and sandbox disagree"
                )
        wrong = set(per_phase["reminder"]) & applied_before_reminder
        if wrong:
            raise CampaignDemoError(
                f"リマインドが申請済みの {len(wrong)} 人に届きました / reminder reached applicants"
            )
        expected = set(per_phase["open"]) - applied_before_reminder
        if set(per_phase["reminder"]) != expected:
            raise CampaignDemoError(
                f"リマインドの宛先 {len(per_phase['reminder'])} 人が、未申請の受信者 {len(expected)}"
                " 人と一致しません / reminder recipients differ from the open phase's non-applicants"
            )
        say(
            "\n確認 / check: 各フェーズは 1 回ずつ送られ（予告 "
            f"{len(per_phase['preview']):,}・受付開始 {len(per_phase['open']):,}・リマインド "
            f"{len(per_phase['reminder']):,} 人）、リマインドは申請済みの "
            f"{len(applied_before_reminder):,} 人には届きませんでした。"
        )
        if others:
            say(f"  （キャンペーン以外の受信 / other requests received: {dict(others)}）")

    def report_to_hub(self, kpis: dict[str, Any]) -> None:
        ctx = self.ctx
        result = run_cli(["node", "submit-reports", "--tenant", ctx.tenant_code], env=ctx.node_env)
        ctx.say(f"\nハブへの配信レポート / delivery reports to the hub: {result.stdout.strip()}")
        query = """query($p: String!, $n: String!) { deliveryReports(publisher: $p, noticeId: $n) {
          headline program phases { phase
            municipalities { municipality name asOf suppressed
              counts { targeted sent failed blocked opened clicked applied } }
            totals { municipalities applied { value complete withheld } } } } }"""
        answer = httpx.post(
            f"{ctx.hub.url}/graphql",
            json={"query": query, "variables": {"p": "pref-23", "n": self.notice_id}},
            timeout=60,
        )
        data = self.ok(answer, "deliveryReports")
        if data.get("errors"):
            raise CampaignDemoError(f"deliveryReports: {data['errors']}")
        reports = data["data"]["deliveryReports"]
        print_hub_reports(reports, ctx.say)
        at_hub = {
            p["phase"]: row["counts"]
            for p in reports["phases"]
            for row in p["municipalities"]
            if row["municipality"] == ctx.tenant_code
        }
        for phase in kpis["phases"]:
            counts = at_hub.get(phase["phase"])
            if counts is None:
                raise CampaignDemoError(
                    f"{phase['phase']}: ハブに配信レポートがありません / no report at the hub"
                )
            for key in ("targeted", "sent", "failed", "clicked", "applied"):
                if counts[key] is not None and counts[key] != phase[key]:
                    raise CampaignDemoError(
                        f"{phase['phase']}/{key}: ハブ {counts[key]} ≠ ノード {phase[key]} / "
                        "the hub's report differs from the node's KPIs"
                    )
        ctx.say("確認 / check: ハブの集計はノードの効果測定と一致します（非公開のセルを除く）。")


def _n(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1%}"
    return f"{value:,}"


def print_kpis(kpis: dict[str, Any], say: Callable[[str], None]) -> None:
    say(f"\n■ 効果測定 / campaign KPIs: {kpis['title']}  (as of {kpis['as_of'][:16]})")
    header = ("フェーズ", "対象", "送信", "失敗", "ブロック", "開封", "タップ", "申請")
    say("  " + f"{header[0]:<12}" + "".join(f"{h:>8}" for h in header[1:]))
    for phase in kpis["phases"]:
        cells = [phase[k] for k in ("targeted", "sent", "failed", "blocked", "opened")]
        cells += [phase["clicked"], phase["applied"]]
        say("  " + f"{phase['label_ja']:<12}" + "".join(f"{_n(c):>9}" for c in cells))
    apps = kpis["applications"]
    say(
        f"  申請 / applications: 合計 {_n(apps['total'])}（期間内 {_n(apps['in_window'])}、"
        f"リマインド前 {_n(apps['before_reminder'])}、リマインド後 {_n(apps['after_reminder'])}）"
    )
    say(f"  リマインド不要だった人 / reminders avoided: {_n(apps['before_reminder'])}")
    say(
        f"  期間内の申請率 / applied in time: {_n(apps['in_time_rate'])}（対象 {_n(apps['segment'])}"
        f" 人中）  昨年 / baseline: {_n(apps['baseline_rate'])}  差 / difference: "
        + (
            "—"
            if apps["vs_baseline_points"] is None
            else f"{apps['vs_baseline_points']:+.1f} ポイント"
        )
    )


def print_hub_reports(reports: dict[str, Any], say: Callable[[str], None]) -> None:
    say(f"■ ハブが公開する集計 / what the hub publishes: {reports['headline']}")
    for phase in reports["phases"]:
        for row in phase["municipalities"]:
            counts = row["counts"]
            cells = " ".join(
                f"{k} {_n(counts[k])}"
                for k in ("targeted", "sent", "failed", "blocked", "opened", "clicked", "applied")
            )
            hidden = (
                f"  (非公開 / suppressed: {', '.join(row['suppressed'])})"
                if row["suppressed"]
                else ""
            )
            say(f"  {phase['phase']:<9} {row['municipality']} {row['name'] or ''}: {cells}{hidden}")
        total = phase["totals"]["applied"]
        say(
            f"  {'':<9} 合計 / total ({phase['totals']['municipalities']} 自治体): applied "
            f"{_n(total['value'])}{'' if total['complete'] else ' (一部非公開 / partial)'}"
        )


def run_campaign(ctx: CampaignContext) -> None:
    scenario = CampaignScenario(ctx)
    try:
        scenario.run()
    finally:
        scenario.close()
