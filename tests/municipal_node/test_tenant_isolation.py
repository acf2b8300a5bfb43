"""Tenant isolation, route by route: every ``/api/tenants/{code}/…`` route of the app.

Two tenants, A (弥富市) and B, each with an admin staff member, and objects of every kind in
B (staff, residents, a linked friend, registration codes, a segment, a template, a relay rule,
a notice and its send job), named with markers. For every route of ``create_app``:

- B's admin on A's path gets 403 (and nobody gets in without a token: 401);
- A's admin with B's ids in the path gets 404, with ids that exist nowhere 404, with malformed
  ids 404/422, never 200 or 500; B's ids in a body are refused (404/422);
- A's admin reading any list of A never sees one of B's markers;
- afterwards B's objects are all still there, unchanged.

``ROUTES`` says, for each (method, path), which B-owned object fills each extra path
parameter and what body the route needs. The test fails when the app has a route that
``ROUTES`` does not cover (or the other way round): whoever adds a route adds its row here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from municipal_node.db.engine import unit_of_work
from municipal_node.dispatch.models import JobState, SendJob
from municipal_node.relay.models import StoredNotice
from municipal_node.settings import NodeSettings
from tests.municipal_node.conftest import Node
from tests.municipal_node.helpers import ADMIN_TOKEN, NOW, TENANT, new_ulid

A = TENANT
B = "23100"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PASSWORD = "isolation passphrase 1"
PREFIX = "/api/tenants/{code}"

#: B's LINE friend, linked to B's resident RB-7F3 by the CSV import
B_USER = "U" + "b7f3" * 8
#: every string that names something of B; none may appear in an answer given to A
B_MARKERS = ("staff-b-7f3", "RB-7F3", B_USER, "b-segment-7f3", "b-template-7f3", "b-rule-7f3")
CSV_HEADER = "resident_id,household,child_birth_dates,district,programs,line_user_id\n"


@pytest.fixture
def node_settings(node_settings: NodeSettings) -> NodeSettings:
    return node_settings.model_copy(
        update={
            "staff_password_time_cost": 1,
            "staff_password_memory_kib": 1024,
            "staff_password_parallelism": 1,
        }
    )


@dataclass
class World:
    """B's objects: the ids each kind of path parameter takes."""

    ids: dict[str, str] = field(default_factory=dict)
    a_admin: dict[str, str] = field(default_factory=dict)
    b_admin: dict[str, str] = field(default_factory=dict)


Params = dict[str, str]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    """How to call one route: extra path parameters (B-owned, missing, malformed) and a body.

    ``params`` maps each path parameter (besides ``code``) to a key of ``World.ids`` (the
    B-owned object) and gives the value of one that exists nowhere and a malformed one.
    ``body`` is the valid body; ``foreign_body`` a body naming B's objects (or None).
    """

    params: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    body: Body | None = None
    foreign_body: Body | None = None
    raw: bytes | None = None  # a non-JSON body (CSV)


def segment_body(world: World) -> dict[str, Any]:
    return {"name": "a-segment", "spec": {}}


def template_body(world: World) -> dict[str, Any]:
    return {"name": "a-template", "text": "{自治体名}からのお知らせです。"}


def rule_body(world: World) -> dict[str, Any]:
    return {"name": "a-rule"}


def staff_body(world: World) -> dict[str, Any]:
    return {"username": "new-a", "display_name": "新人", "password": PASSWORD, "role": "viewer"}


def codes_body(world: World) -> dict[str, Any]:
    return {"resident_ids": ["RA-1"]}


def _empty(world: World) -> dict[str, Any]:
    return {}


MISSING_INT = "987654"
SEGMENT = ("segment_id", MISSING_INT, "abc")
TEMPLATE = ("template_id", MISSING_INT, "abc")
RULE = ("rule_id", MISSING_INT, "abc")
ISSUE = ("issue_id", MISSING_INT, "abc")
JOB = ("job_id", MISSING_INT, "abc")
USERNAME = ("username", "nobody-here", "NOT VALID!")
RESIDENT = ("resident_id", "NO-SUCH-RESIDENT", "%20")
FRIEND = ("user_id", "U" + "0" * 32, "not-a-user")
PUBLISHER = ("publisher", "gov-nobody", "NOT VALID")
NOTICE = ("notice_id", "01J00000000000000000000000", "x")
CAMPAIGN = ("campaign_id", MISSING_INT, "abc")
PHASE = ("phase", "reminder", "nope")
#: B's campaign (campaigns, H1)
B_MARKERS = (*B_MARKERS, "b-campaign-7f3")
RECURRING = ("recurring_rule_id", MISSING_INT, "abc")
#: B's recurring notice (recurring notices, #5 H5)
B_MARKERS = (*B_MARKERS, "b-recurring-7f3")


def recurring_body(world: World) -> dict[str, Any]:
    return {
        "name": "a-recurring",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=11",
        "spec": {},
        "headline": "お知らせ",
        "body": "毎月のお知らせです。",
    }


def trigger_body(world: World) -> dict[str, Any]:
    return {"trigger": "checkup_4m", "headline": "健診のご案内", "body": "日程をご確認ください。"}


ROUTES: dict[tuple[str, str], Case] = {
    # status (skeleton)
    ("GET", "/notices"): Case(),
    ("GET", "/rejections"): Case(),
    # residents (H4)
    ("POST", "/residents/import"): Case(raw=(CSV_HEADER + "RA-1,elderly,,東町,,\n").encode()),
    # ID連携 (H2)
    ("POST", "/registration-codes"): Case(
        body=codes_body, foreign_body=lambda w: {"resident_ids": ["RB-7F3"]}
    ),
    ("GET", "/registration-codes/{issue_id}"): Case(params={"issue_id": ISSUE}),
    ("GET", "/registration-codes/{issue_id}/letters"): Case(params={"issue_id": ISSUE}),
    ("POST", "/registration-codes/{issue_id}/revoke"): Case(
        params={"issue_id": ISSUE}, body=_empty
    ),
    ("DELETE", "/residents/{resident_id}/link"): Case(params={"resident_id": RESIDENT}),
    ("POST", "/friends/{user_id}/erase"): Case(params={"user_id": FRIEND}),
    # segments (H5)
    ("GET", "/segments"): Case(),
    ("POST", "/segments"): Case(body=segment_body),
    ("POST", "/segments/preview"): Case(body=lambda w: {"spec": {}}),
    ("GET", "/segments/{segment_id}"): Case(params={"segment_id": SEGMENT}),
    ("PUT", "/segments/{segment_id}"): Case(params={"segment_id": SEGMENT}, body=segment_body),
    ("DELETE", "/segments/{segment_id}"): Case(params={"segment_id": SEGMENT}),
    ("GET", "/segments/{segment_id}/count"): Case(params={"segment_id": SEGMENT}),
    # templates and relay rules (H5)
    ("GET", "/templates"): Case(),
    ("POST", "/templates"): Case(body=template_body),
    ("POST", "/templates/preview"): Case(
        body=_empty, foreign_body=lambda w: {"template_id": int(w.ids["template_id"])}
    ),
    ("GET", "/templates/{template_id}"): Case(params={"template_id": TEMPLATE}),
    ("PUT", "/templates/{template_id}"): Case(params={"template_id": TEMPLATE}, body=template_body),
    ("DELETE", "/templates/{template_id}"): Case(params={"template_id": TEMPLATE}),
    ("GET", "/relay-rules"): Case(),
    ("POST", "/relay-rules"): Case(
        body=rule_body,
        foreign_body=lambda w: {
            "name": "a-rule",
            "segment_id": int(w.ids["segment_id"]),
            "template_id": int(w.ids["template_id"]),
        },
    ),
    ("GET", "/relay-rules/{rule_id}"): Case(params={"rule_id": RULE}),
    ("PUT", "/relay-rules/{rule_id}"): Case(params={"rule_id": RULE}, body=rule_body),
    ("DELETE", "/relay-rules/{rule_id}"): Case(params={"rule_id": RULE}),
    # sends (H6)
    ("GET", "/sends"): Case(),
    ("GET", "/sends/{job_id}"): Case(params={"job_id": JOB}),
    ("GET", "/sends/{job_id}/approvals"): Case(params={"job_id": JOB}),
    ("POST", "/sends/{job_id}/approve"): Case(params={"job_id": JOB}),
    ("POST", "/notices/{publisher}/{notice_id}/cancel"): Case(
        params={"publisher": PUBLISHER, "notice_id": NOTICE},
        body=lambda w: {"reason": "分離テスト / isolation test"},
    ),
    # campaigns (#5 H1)
    ("GET", "/campaigns"): Case(),
    ("POST", "/campaigns"): Case(
        body=lambda w: {"publisher": "gov-cfa", "notice_id": NOTICE[1]},
        foreign_body=lambda w: {"publisher": w.ids["publisher"], "notice_id": w.ids["notice_id"]},
    ),
    ("GET", "/campaigns/{campaign_id}"): Case(params={"campaign_id": CAMPAIGN}),
    ("PATCH", "/campaigns/{campaign_id}/phases/{phase}"): Case(
        params={"campaign_id": CAMPAIGN, "phase": PHASE}, body=lambda w: {"enabled": False}
    ),
    ("POST", "/campaigns/{campaign_id}/cancel"): Case(
        params={"campaign_id": CAMPAIGN}, body=lambda w: {"reason": "分離テスト / isolation test"}
    ),
    ("PUT", "/campaigns/{campaign_id}/baseline"): Case(
        params={"campaign_id": CAMPAIGN}, body=lambda w: {"rate": 0.5}
    ),
    # campaign KPIs (#5 H3)
    ("GET", "/campaigns/{campaign_id}/kpis"): Case(params={"campaign_id": CAMPAIGN}),
    # counter/mail applicants (#5 H2)
    ("POST", "/campaigns/{campaign_id}/applicants.csv"): Case(
        params={"campaign_id": CAMPAIGN}, raw=b"resident_id,applied_at\nRB-7F3,2026-03-31\n"
    ),
    # recurring notices and date triggers (#5 H5)
    ("GET", "/recurring-rules"): Case(),
    ("POST", "/recurring-rules"): Case(
        body=recurring_body,
        foreign_body=lambda w: {**recurring_body(w), "template_id": int(w.ids["template_id"])},
    ),
    ("POST", "/recurring-rules/preview"): Case(
        body=lambda w: {"rrule": "FREQ=MONTHLY;BYMONTHDAY=11"}
    ),
    ("GET", "/recurring-rules/{rule_id}"): Case(params={"rule_id": RECURRING}),
    ("PUT", "/recurring-rules/{rule_id}"): Case(params={"rule_id": RECURRING}, body=recurring_body),
    ("GET", "/triggers"): Case(),
    ("POST", "/triggers"): Case(
        body=trigger_body,
        foreign_body=lambda w: {**trigger_body(w), "template_id": int(w.ids["template_id"])},
    ),
    # staff (H1)
    ("GET", "/staff"): Case(),
    ("POST", "/staff"): Case(body=staff_body),
    ("PATCH", "/staff/{username}"): Case(
        params={"username": USERNAME}, body=lambda w: {"role": "editor"}
    ),
    ("POST", "/staff/{username}/password"): Case(
        params={"username": USERNAME}, body=lambda w: {"password": "another passphrase 2"}
    ),
    ("DELETE", "/staff/{username}"): Case(params={"username": USERNAME}),
}


def tenant_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path below the tenant prefix) of every route under ``/api/tenants/{code}``."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None or not (path == PREFIX or path.startswith(PREFIX + "/")):
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, path.removeprefix(PREFIX)))
    return found


def path_params(path: str) -> set[str]:
    return {piece[1:-1] for piece in path.split("/") if piece.startswith("{")}


def test_the_table_covers_every_tenant_route_of_the_app(node_app: FastAPI) -> None:
    routes = tenant_routes(node_app)
    assert routes, "no tenant routes found: has the prefix changed?"
    uncovered = sorted(routes - set(ROUTES))
    stale = sorted(set(ROUTES) - routes)
    assert not uncovered, f"add these routes to ROUTES in {__name__}: {uncovered}"
    assert not stale, f"these ROUTES rows name routes the app no longer has: {stale}"
    for (method, path), case in ROUTES.items():
        assert path_params(path) == set(case.params), (method, path)


async def _json(response: httpx.Response, *, expect: int = 200) -> Any:
    assert response.status_code == expect, response.text
    return response.json()


async def login_admin(http: httpx.AsyncClient, tenant: str, username: str) -> dict[str, str]:
    await _json(
        await http.post(
            f"/api/tenants/{tenant}/staff",
            json={"username": username, "display_name": "管理者", "password": PASSWORD,
                  "role": "admin"},
            headers=OPERATOR,
        ),
        expect=201,
    )  # fmt: skip
    token = (await _json(await http.post("/api/login", json={"username": username,
                                                               "password": PASSWORD})))["token"]  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


async def seed_send_job(node: Node, tenant: str) -> tuple[str, str, int]:
    """A stored notice and its send job in ``tenant`` (no public API makes these: the hub feed
    and the planner do), as rows."""
    notice_id = new_ulid()
    async with unit_of_work(node.sessions) as session:
        session.add(
            StoredNotice(
                tenant_code=tenant, publisher="gov-cfa", notice_id=notice_id,
                document_id=notice_id, revision=1, msg_type="Alert", status="Actual",
                category="benefit", program_code="jido-fuyo-teate", headline="b notice",
                effective=NOW, expires=NOW + timedelta(days=30), seq=1, kid="gov-cfa/2026a",
                digest="0" * 64, received_at=NOW, verified_at=NOW, envelope={}, receipt={},
                state="held", state_reason=None, targeted=1, updated_at=NOW,
            )
        )  # fmt: skip
        job = SendJob(
            tenant_code=tenant, publisher="gov-cfa", notice_id=notice_id, rule_id=None,
            approval="approval", spec={}, messages=[{"type": "text", "text": "x"}],
            aggregation_unit="n" + notice_id[:20].lower(), state=JobState.HELD, targeted=1,
            batches=0, plan_after=None, send_until=NOW + timedelta(days=30), reason=None,
            created_at=NOW, updated_at=NOW, planned_at=NOW, finished_at=None,
        )  # fmt: skip
        session.add(job)
        await session.flush()
        return "gov-cfa", notice_id, job.id


async def seed_campaign(node: Node, tenant: str, publisher: str, notice_id: str) -> int:
    """A campaign of the seeded notice with one phase (campaigns, H1), as rows."""
    from municipal_node.campaigns.models import Campaign, CampaignPhase

    async with unit_of_work(node.sessions) as session:
        campaign = Campaign(
            tenant_code=tenant, publisher=publisher, notice_id=notice_id,
            title="b-campaign-7f3", opens_at=NOW + timedelta(days=10),
            closes_at=NOW + timedelta(days=20), rule_id=None, spec={}, quiet_start="21:00",
            quiet_end="08:00", skip_holidays=False, baseline_rate=None, form=[],
            state="active", reason=None, created_by="test", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignPhase(
                campaign_id=campaign.id, tenant_code=tenant, phase="open", enabled=True,
                send_at=NOW + timedelta(days=10), messages=[{"type": "text", "text": "x"}],
                state="scheduled", job_id=None, reason=None, updated_at=NOW,
            )
        )  # fmt: skip
        return campaign.id


async def build_world(node: Node, http: httpx.AsyncClient) -> World:
    await node.add_tenant(code=A)
    await node.add_tenant(code=B)
    world = World()
    world.a_admin = await login_admin(http, A, "admin-a")
    world.b_admin = await login_admin(http, B, "admin-b")
    b = world.b_admin

    async def post(path: str, body: Any, expect: int = 201) -> Any:
        return await _json(await http.post(f"/api/tenants/{B}{path}", json=body, headers=b),
                           expect=expect)  # fmt: skip

    await post(
        "/staff",
        {"username": "staff-b-7f3", "display_name": "B職員", "password": PASSWORD,
         "role": "viewer"},
    )  # fmt: skip
    world.ids["username"] = "staff-b-7f3"
    for tenant, rows in (
        (B, f"RB-7F3,single_parent,,西町,,{B_USER}\n"),
        (A, "RA-1,elderly,,東町,,\n"),
    ):
        imported = await http.post(
            f"/api/tenants/{tenant}/residents/import",
            content=(CSV_HEADER + rows).encode(),
            headers={**OPERATOR, "Content-Type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
    world.ids["resident_id"] = "RB-7F3"
    world.ids["user_id"] = B_USER
    world.ids["issue_id"] = str(
        (await post("/registration-codes", {"resident_ids": ["RB-7F3"]}))["issue_id"]
    )
    world.ids["segment_id"] = str(
        (await post("/segments", {"name": "b-segment-7f3", "spec": {}}))["id"]
    )
    world.ids["template_id"] = str(
        (await post("/templates", {"name": "b-template-7f3", "text": "{自治体名}からのお知らせ"}))[
            "id"
        ]
    )
    world.ids["rule_id"] = str(
        (await post("/relay-rules", {"name": "b-rule-7f3",
                                     "segment_id": int(world.ids["segment_id"]),
                                     "template_id": int(world.ids["template_id"])}))["id"]
    )  # fmt: skip
    publisher, notice_id, job_id = await seed_send_job(node, B)
    world.ids.update(publisher=publisher, notice_id=notice_id, job_id=str(job_id))
    world.ids["campaign_id"] = str(await seed_campaign(node, B, publisher, notice_id))
    world.ids["recurring_rule_id"] = str(
        (await post("/recurring-rules", {**recurring_body(world), "name": "b-recurring-7f3"}))["id"]
    )
    world.ids["phase"] = "open"
    return world


def url(path: str, values: Params, tenant: str = A) -> str:
    filled = PREFIX + path
    for name, value in {"code": tenant, **values}.items():
        filled = filled.replace("{" + name + "}", value)
    return filled


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    case: Case,
    world: World,
    headers: dict[str, str],
    values: Params,
    body: Body | None = None,
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers}
    chosen = body or case.body
    if case.raw is not None:
        kwargs["content"] = case.raw
        kwargs["headers"] = {**headers, "Content-Type": "text/csv"}
    elif chosen is not None:
        kwargs["content"] = json.dumps(chosen(world)).encode()
        kwargs["headers"] = {**headers, "Content-Type": "application/json"}
    return await http.request(method, url(path, values), **kwargs)


async def b_snapshot(http: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """What B's admin sees of B: every list, and every B-owned object by its id."""
    seen: dict[str, Any] = {}
    for (method, path), case in sorted(ROUTES.items()):
        if method != "GET" or path.endswith("/letters") or path.endswith("/count"):
            continue
        values = {name: world.ids[kind] for name, (kind, _, _) in case.params.items()}
        response = await http.get(url(path, values, tenant=B), headers=world.b_admin)
        assert response.status_code == 200, (path, response.text)
        seen[path] = response.json()
    return seen


async def test_no_tenant_route_lets_one_tenant_reach_another(
    node: Node, node_http: httpx.AsyncClient, node_app: FastAPI
) -> None:
    world = await build_world(node, node_http)
    routes = sorted(tenant_routes(node_app) & set(ROUTES))
    before = await b_snapshot(node_http, world)
    problems: list[str] = []

    def expect(what: str, response: httpx.Response, allowed: set[int]) -> None:
        if response.status_code not in allowed:
            problems.append(f"{what}: {response.status_code} {response.text[:200]}")

    for method, path in routes:
        case = ROUTES[(method, path)]
        b_ids = {name: world.ids[kind] for name, (kind, _, _) in case.params.items()}
        missing = {name: value for name, (_, value, _) in case.params.items()}
        malformed = {name: value for name, (_, _, value) in case.params.items()}
        label = f"{method} {path}"
        # nobody without a token; B's admin on A's path
        expect(
            f"{label} anonymous", await call(node_http, method, path, case, world, {}, b_ids), {401}
        )
        expect(
            f"{label} as B's admin on A",
            await call(node_http, method, path, case, world, world.b_admin, b_ids),
            {403},
        )
        if case.params:
            # A's admin naming B's objects, objects that exist nowhere, malformed ids
            expect(
                f"{label} A with B's ids",
                await call(node_http, method, path, case, world, world.a_admin, b_ids),
                {404},
            )
            expect(
                f"{label} A with missing ids",
                await call(node_http, method, path, case, world, world.a_admin, missing),
                {404},
            )
            expect(
                f"{label} A with malformed ids",
                await call(node_http, method, path, case, world, world.a_admin, malformed),
                {404, 422},
            )
        if case.foreign_body is not None:
            expect(
                f"{label} A with B's ids in the body",
                await call(
                    node_http, method, path, case, world, world.a_admin, {}, case.foreign_body
                ),
                {404, 422},
            )
        if method == "GET" and not case.params:
            response = await call(node_http, method, path, case, world, world.a_admin, {})
            expect(f"{label} A's own list", response, {200})
            leaked = [marker for marker in B_MARKERS if marker in response.text]
            if leaked:
                problems.append(f"{label}: A's answer names B's {leaked}")
    assert not problems, "\n".join(problems)
    assert await b_snapshot(node_http, world) == before
