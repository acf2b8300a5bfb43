"""Counter/mail applicants: ``POST /api/tenants/{code}/campaigns/{id}/applicants.csv`` and
``todoke node import-applicants`` — whole-file validation, ``skip_bad``, idempotence, audit; and
who counts as applied (``applications.repository``)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from municipal_node.applications import repository
from municipal_node.applications.models import Application
from municipal_node.audit.models import AuditEntry
from municipal_node.db.engine import unit_of_work
from municipal_node.residents.models import Resident
from municipal_node.settings import NodeSettings
from tests.municipal_node.applications.conftest import GOOD_ANSWERS, LiffSetup, uid
from tests.municipal_node.conftest import ENCRYPTION_KEY
from tests.municipal_node.helpers import ADMIN_TOKEN, NOW, TENANT
from todoke.commands.node import node_group

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"}


@pytest.fixture
def node_settings(node_settings: NodeSettings) -> NodeSettings:
    return node_settings.model_copy(update={"import_max_bad_share": 0.5})


def applicants_url(campaign_id: int, code: str = TENANT) -> str:
    return f"/api/tenants/{code}/campaigns/{campaign_id}/applicants.csv"


async def upload(
    client: httpx.AsyncClient, campaign_id: int, text: str, *, skip_bad: bool = False
) -> httpx.Response:
    return await client.post(
        applicants_url(campaign_id),
        content=text.encode("utf-8"),
        headers=AUTH,
        params={"skip_bad": "true"} if skip_bad else {},
    )


async def rows(liff: LiffSetup) -> list[Application]:
    async with liff.node.sessions() as session:
        return list(await session.scalars(select(Application).order_by(Application.resident_id)))


async def test_import_records_counter_applicants_idempotently(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    text = "applied_at,resident_id\n2026-03-31,R002\n2026-03-31T14:30,R003\n\n"
    first = await upload(node_http, liff.campaign_id, text)
    assert first.status_code == 200, first.text
    assert first.json() == {"rows": 2, "inserted": 2, "existing": 0, "skipped": 0, "issues": []}
    again = await upload(node_http, liff.campaign_id, text)
    assert again.json()["inserted"] == 0 and again.json()["existing"] == 2
    stored = await rows(liff)
    assert [(r.resident_id, r.line_user_id, r.channel) for r in stored] == [
        ("R002", uid(2), "counter"),
        ("R003", None, "counter"),
    ]
    # a date is 00:00 JST of that day, a time without offset is JST
    assert stored[0].applied_at == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
    assert stored[1].applied_at == datetime(2026, 3, 31, 5, 30, tzinfo=UTC)
    async with liff.node.sessions() as session:
        audits = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "applications.import")
                .order_by(AuditEntry.id)
            )
        )
    assert [(a.actor, a.count) for a in audits] == [("operator", 2), ("operator", 0)]
    assert "R002" not in json.dumps([a.detail for a in audits])


async def test_every_bad_line_is_reported_and_nothing_imported(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    text = (
        "resident_id,applied_at\n"
        "R001,2026-03-31\n"  # 2 good
        "R9,2026-03-31\n"  # 3 unknown resident
        "R002,2026-02-30\n"  # 4 not a date
        "R003,2026-04-02\n"  # 5 future (NOW is 2026-04-01 09:00 JST)
        "R001,2026-03-30\n"  # 6 repeated
        "bad id!,2026-03-30\n"  # 7 malformed id
        "R004\n"  # 8 one column
    )
    response = await upload(node_http, liff.campaign_id, text)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "CSV_INVALID"
    assert body["message"].startswith("CSV の 6 行に誤りがあるため何も取り込んでいません")
    assert [(i["line"], i["code"]) for i in body["issues"]] == [
        (3, "UNKNOWN_RESIDENT"),
        (4, "BAD_APPLIED_AT"),
        (5, "FUTURE_APPLIED_AT"),
        (6, "DUPLICATE_RESIDENT_ID"),
        (7, "BAD_RESIDENT_ID"),
        (8, "BAD_COLUMNS"),
    ]
    assert await rows(liff) == []
    # skip_bad, but 6 of 7 lines bad: above the share allowed (0.5 here), still nothing
    too_many = await upload(node_http, liff.campaign_id, text, skip_bad=True)
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["code"] == "TOO_MANY_BAD_LINES"
    assert len(too_many.json()["issues"]) == 6
    assert await rows(liff) == []
    fewer = "resident_id,applied_at\nR001,2026-03-31\nR9,2026-03-31\nR002,2026-03-31\n"
    skipped = await upload(node_http, liff.campaign_id, fewer, skip_bad=True)
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["inserted"] == 2 and skipped.json()["skipped"] == 1
    assert [i["line"] for i in skipped.json()["issues"]] == [3]
    assert [r.resident_id for r in await rows(liff)] == ["R001", "R002"]


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "EMPTY_FILE"), ("resident_id,date\nR001,2026-03-31\n", "BAD_HEADER")],
)
async def test_a_broken_file_is_refused_even_with_skip_bad(
    liff: LiffSetup, node_http: httpx.AsyncClient, text: str, code: str
) -> None:
    response = await upload(node_http, liff.campaign_id, text, skip_bad=True)
    assert response.status_code == 422
    assert [issue["code"] for issue in response.json()["issues"]] == [code]
    assert await rows(liff) == []


async def test_unknown_or_foreign_campaign_is_404(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    for campaign in (liff.other_campaign_id, 4242):
        response = await upload(node_http, campaign, "resident_id,applied_at\nR001,2026-03-31\n")
        assert response.status_code == 404
        assert response.json()["code"] == "UNKNOWN_CAMPAIGN"


async def test_counter_and_online_applications_of_one_person_count_once(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    # uid(5) applies online before any link; R005 applies at the counter; then R005 is linked
    # to uid(5): one person with two rows
    token = await liff.id_token(5)
    response = await node_http.post(
        f"/liff/{TENANT}/campaigns/{liff.campaign_id}/applications",
        json={"id_token": token, "answers": GOOD_ANSWERS},
    )
    assert response.status_code == 201, response.text
    csv_text = "resident_id,applied_at\nR005,2026-03-31T10:00\nR002,2026-03-31T11:00\n"
    assert (await upload(node_http, liff.campaign_id, csv_text)).json()["inserted"] == 2
    async with unit_of_work(liff.node.sessions) as session:
        await session.execute(
            update(Resident)
            .where(Resident.tenant_code == TENANT, Resident.resident_id == "R005")
            .values(line_user_id=uid(5))
        )
    async with liff.node.sessions() as session:
        applied = await repository.applied_user_ids(
            session, TENANT, liff.campaign_id, [uid(i) for i in range(10)]
        )
        assert applied == {uid(5), uid(2)}
        assert await repository.count_applied(session, TENANT, liff.campaign_id) == 2
        # before NOW: the two counter rows (the online one is at NOW)
        assert await repository.count_applied(session, TENANT, liff.campaign_id, before=NOW) == 2
        early = datetime(2026, 3, 31, 1, 30, tzinfo=UTC)  # 10:30 JST
        assert await repository.count_applied(session, TENANT, liff.campaign_id, before=early) == 1
        assert await repository.applied_user_ids(session, "23236", liff.campaign_id, [uid(5)]) == (
            set()
        )
        assert await repository.count_applied(session, "23236", liff.campaign_id) == 0
    # the linked resident opening the form again gets the first receipt
    again = await node_http.post(
        f"/liff/{TENANT}/campaigns/{liff.campaign_id}/applications",
        json={"id_token": await liff.id_token(2), "answers": GOOD_ANSWERS},
    )
    assert again.status_code == 200, again.text
    assert again.json()["channel"] == "counter" and again.json()["created"] is False


async def test_online_applicant_is_not_imported_twice(
    liff: LiffSetup, node_http: httpx.AsyncClient
) -> None:
    token = await liff.id_token(1)  # uid(1) is linked to R001
    response = await node_http.post(
        f"/liff/{TENANT}/campaigns/{liff.campaign_id}/applications",
        json={"id_token": token, "answers": GOOD_ANSWERS},
    )
    assert response.status_code == 201
    imported = await upload(
        node_http, liff.campaign_id, "resident_id,applied_at\nR001,2026-03-31\n"
    )
    assert imported.json()["existing"] == 1 and imported.json()["inserted"] == 0
    assert len(await rows(liff)) == 1


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(node_group, list(args), env=env, catch_exceptions=False)


async def test_cli_set_liff_and_import_applicants(
    liff: LiffSetup, database_url: str, tmp_path: Path
) -> None:
    env = {"TODOKE_NODE_DATABASE_URL": database_url, "TODOKE_NODE_ENCRYPTION_KEY": ENCRYPTION_KEY}
    bad = await asyncio.to_thread(
        cli, env, "set-liff", "--tenant", TENANT, "--liff-id", "2000000000-AbCdEfGh"
    )
    assert bad.exit_code != 0
    assert "LINEログインチャネル" in bad.output
    bad_url = await asyncio.to_thread(
        cli, env, "set-liff", "--tenant", TENANT, "--public-url", "http://todoke.example.lg.jp"
    )
    assert bad_url.exit_code != 0 and "https" in bad_url.output
    good = await asyncio.to_thread(
        cli, env, "set-liff", "--tenant", TENANT, "--public-url", "https://apply.example.lg.jp/"
    )
    assert good.exit_code == 0, good.output
    assert "https://apply.example.lg.jp" in good.output
    path = tmp_path / "applicants.csv"
    path.write_text("resident_id,applied_at\nR003,2026-03-31\nR404,2026-03-31\n", "utf-8")
    refused = await asyncio.to_thread(
        cli, env, "import-applicants", "--tenant", TENANT, "--campaign", str(liff.campaign_id),
        str(path),
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "3行目 [resident_id]" in refused.output and "UNKNOWN_RESIDENT" in refused.output
    assert await rows(liff) == []
    done = await asyncio.to_thread(
        cli, env, "import-applicants", "--tenant", TENANT, "--campaign", str(liff.campaign_id),
        "--skip-bad", str(path),
    )  # fmt: skip
    assert done.exit_code == 1  # 1 of 2 lines bad: above the default share (0.1)
    assert "上限 10.0%" in done.output
    assert await rows(liff) == []
    done = await asyncio.to_thread(
        cli, env, "import-applicants", "--tenant", TENANT, "--campaign", str(liff.campaign_id),
        "--skip-bad", "--max-bad-share", "0.5", str(path),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "新規 inserted 1" in done.output
    assert [r.resident_id for r in await rows(liff)] == ["R003"]
