"""``submitReport`` through the GraphQL API: who may report, what is checked, what is kept."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

import pytest

from contracts.canonical import canonicalize
from contracts.jws import TYP_NOTICE, SignedEnvelope, sign, sign_bytes
from contracts.keys import b64url_encode
from hub.state import HubState
from hub.subscribers.registry import set_suspended
from tests.hub.helpers import PREF_KEY, PREF_KID, HubApi, bearer, make_notice, signed
from tests.hub.stats.conftest import Connect, register_node
from tests.hub.stats.helpers import (
    AS_OF,
    NAGOYA,
    NAGOYA_KEY,
    NAGOYA_KID,
    YATOMI,
    YATOMI_KEY,
    YATOMI_KID,
    counts,
    report_payload,
    sign_report,
    submit,
    view,
)


def yatomi_report(notice_id: str, **changes: object) -> dict[str, object]:
    return report_payload(municipality=YATOMI, publisher="gov-cfa", notice_id=notice_id, **changes)  # type: ignore[arg-type]


async def test_a_signed_report_is_stored_and_shown_per_municipality(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    result = await submit(yatomi, sign_report(yatomi_report(notice_id)))
    assert result["__typename"] == "ReportAccepted", result
    assert result["outcome"] == "STORED"
    assert (result["municipality"], result["publisher"], result["noticeId"], result["phase"]) == (
        YATOMI,
        "gov-cfa",
        notice_id,
        "open",
    )
    page = await view(public, "gov-cfa", notice_id)
    [phase] = page["phases"]
    [row] = phase["municipalities"]
    assert row["municipality"] == YATOMI and row["name"] == "弥富市"
    assert row["counts"] == {
        "targeted": 120,
        "sent": 100,
        "failed": 10,
        "blocked": 10,
        "opened": 40,
        "clicked": 25,
        "applied": 0,
    }
    assert row["suppressed"] == []


async def test_a_report_signed_by_another_tenants_key_is_refused(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    # 弥富市's report, signed with 名古屋市's registered node key, sent with 弥富市's credential.
    envelope = sign_report(yatomi_report(notice_id), key=NAGOYA_KEY, kid=NAGOYA_KID)
    result = await submit(yatomi, envelope)
    assert result["__typename"] == "ReportRejected"
    assert result["code"] == "BAD_SIGNATURE"
    assert (await view(public, "gov-cfa", notice_id))["phases"] == []


async def test_a_report_for_another_municipality_is_refused(
    nagoya: HubApi, public: HubApi, notice_id: str
) -> None:
    # Signed correctly with 名古屋市's own key, but claiming to be 弥富市's numbers.
    envelope = sign_report(yatomi_report(notice_id), key=NAGOYA_KEY, kid=NAGOYA_KID)
    result = await submit(nagoya, envelope)
    assert result["code"] == "WRONG_PUBLISHER", result
    assert YATOMI in result["message"] and NAGOYA in result["message"]
    assert (await view(public, "gov-cfa", notice_id))["phases"] == []


async def test_without_a_valid_credential_nothing_is_stored(
    public: HubApi, connect: Connect, notice_id: str
) -> None:
    envelope = sign_report(yatomi_report(notice_id))
    assert (await submit(public, envelope))["code"] == "UNAUTHENTICATED"
    stranger = connect(bearer("not-a-credential"))
    assert (await submit(stranger, envelope))["code"] == "UNAUTHENTICATED"
    assert (await view(public, "gov-cfa", notice_id))["phases"] == []


async def test_a_suspended_subscriber_cannot_report(
    yatomi: HubApi, registered: HubState, notice_id: str
) -> None:
    async with registered.transaction() as session:
        await set_suspended(
            session, municipality=YATOMI, suspended=True, now=registered.clock.now()
        )
    result = await submit(yatomi, sign_report(yatomi_report(notice_id)))
    assert result["code"] == "UNAUTHENTICATED", result


async def test_a_subscriber_without_a_node_key_gets_unknown_key(
    registered: HubState, connect: Connect, notice_id: str
) -> None:
    credential = await register_node(registered, "23202", "岡崎市", None)
    envelope = sign_report(
        report_payload(municipality="23202", publisher="gov-cfa", notice_id=notice_id)
    )
    result = await submit(connect(bearer(credential)), envelope)
    assert result["code"] == "UNKNOWN_KEY", result
    assert "23202" in result["message"]


async def test_a_later_as_of_replaces_the_same_is_idempotent_an_earlier_is_ignored(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    first = sign_report(yatomi_report(notice_id))
    assert (await submit(yatomi, first))["outcome"] == "STORED"
    again = await submit(yatomi, first)
    assert again["outcome"] == "DUPLICATE"
    jst = timezone(timedelta(hours=9))  # the same instant and counts, written in JST
    same_in_jst = await submit(
        yatomi, sign_report(yatomi_report(notice_id, as_of=AS_OF.astimezone(jst)))
    )
    assert same_in_jst["outcome"] == "DUPLICATE"

    later_at = AS_OF + timedelta(minutes=30)
    later = sign_report(
        yatomi_report(notice_id, as_of=later_at, raw=counts(targeted=200, sent=200, applied=50))
    )
    replaced = await submit(yatomi, later)
    assert replaced["outcome"] == "REPLACED"
    assert replaced["asOf"].startswith(later_at.isoformat()[:19])

    older = sign_report(yatomi_report(notice_id, as_of=AS_OF - timedelta(minutes=1)))
    outdated = await submit(yatomi, older)
    assert outdated["outcome"] == "OUTDATED"
    assert outdated["digest"] == replaced["digest"]  # the later report is still the one held

    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    [row] = phase["municipalities"]
    assert row["counts"]["targeted"] == 200 and row["counts"]["applied"] == 50


async def test_the_same_as_of_with_other_counts_is_equivocation(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    assert (await submit(yatomi, sign_report(yatomi_report(notice_id))))["outcome"] == "STORED"
    other = sign_report(yatomi_report(notice_id, raw=counts(targeted=300, sent=300)))
    result = await submit(yatomi, other)
    assert result["code"] == "EQUIVOCATION", result
    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    assert phase["municipalities"][0]["counts"]["targeted"] == 120


async def test_phases_are_kept_apart(yatomi: HubApi, public: HubApi, notice_id: str) -> None:
    for phase in ("reminder", "preview", "open"):
        result = await submit(yatomi, sign_report(yatomi_report(notice_id, phase=phase)))
        assert result["outcome"] == "STORED", result
    page = await view(public, "gov-cfa", notice_id)
    assert [p["phase"] for p in page["phases"]] == ["preview", "open", "reminder"]


@pytest.mark.parametrize(
    ("counts_", "suppressed"),
    [
        # a small count published
        ({"targeted": 120, "sent": 105, "failed": 5, "blocked": 10}, []),
        # failed withheld alone: targeted - sent - blocked gives it away
        ({"targeted": 120, "sent": 105, "failed": None, "blocked": 10}, ["failed"]),
        # null but not named in suppressed
        ({"targeted": 120, "sent": 100, "failed": 10, "blocked": 10, "opened": None}, []),
    ],
)
async def test_a_report_breaking_the_suppression_rules_is_schema_invalid(
    yatomi: HubApi,
    public: HubApi,
    notice_id: str,
    counts_: dict[str, int | None],
    suppressed: list[str],
) -> None:
    payload = yatomi_report(notice_id)
    payload["counts"] = {**counts(opened=40, clicked=25), **counts_}
    payload["suppressed"] = suppressed
    result = await submit(yatomi, sign_report(payload))
    assert result["code"] == "SCHEMA_INVALID", result
    assert (await view(public, "gov-cfa", notice_id))["phases"] == []


async def test_a_report_for_an_unknown_notice_is_a_bad_reference(yatomi: HubApi) -> None:
    from tests.hub.helpers import new_ulid

    result = await submit(yatomi, sign_report(yatomi_report(new_ulid())))
    assert result["code"] == "BAD_REFERENCE", result


async def test_a_report_for_a_notice_of_another_area_is_scope_denied(
    yatomi: HubApi, public: HubApi
) -> None:
    notice = make_notice(publisher="pref-23", area=[NAGOYA])
    assert (await public.publish(signed(notice, kid=PREF_KID, key=PREF_KEY)))[
        "__typename"
    ] == "PublishAccepted"
    payload = report_payload(
        municipality=YATOMI, publisher="pref-23", notice_id=notice["notice_id"]
    )
    result = await submit(yatomi, sign_report(payload))
    assert result["code"] == "SCOPE_DENIED", result


async def test_an_as_of_in_the_future_is_refused(yatomi: HubApi, notice_id: str) -> None:
    payload = yatomi_report(notice_id, as_of=AS_OF + timedelta(hours=2))
    result = await submit(yatomi, sign_report(payload))
    assert result["code"] == "SCHEMA_INVALID" and "as_of" in result["message"], result


async def test_envelope_level_errors_have_their_codes(yatomi: HubApi, notice_id: str) -> None:
    payload = yatomi_report(notice_id)
    as_notice = sign(payload, typ=TYP_NOTICE, kid=YATOMI_KID, private_key=YATOMI_KEY)
    assert (await submit(yatomi, as_notice))["code"] == "BAD_ENVELOPE"

    header = canonicalize({"alg": "none", "kid": YATOMI_KID, "typ": "todoke-report+jws"})
    bad_alg = sign_bytes(protected=header, payload=canonicalize(payload), private_key=YATOMI_KEY)
    assert (await submit(yatomi, bad_alg))["code"] == "BAD_ALG"

    spaced = json.dumps(payload, indent=1).encode()
    header = canonicalize({"alg": "Ed25519", "kid": YATOMI_KID, "typ": "todoke-report+jws"})
    not_canonical = sign_bytes(protected=header, payload=spaced, private_key=YATOMI_KEY)
    assert (await submit(yatomi, not_canonical))["code"] == "NOT_CANONICAL"

    big = sign_bytes(protected=header, payload=b"x" * 70_000, private_key=YATOMI_KEY)
    assert (await submit(yatomi, big))["code"] == "TOO_LARGE"


async def test_a_malformed_envelope_is_bad_envelope(yatomi: HubApi, notice_id: str) -> None:
    envelope = sign_report(yatomi_report(notice_id))
    junk = SignedEnvelope(protected=b64url_encode(b"{"), payload="e30", signature="AAAA")
    assert (await submit(yatomi, junk))["code"] == "BAD_ENVELOPE"
    truncated = SignedEnvelope(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature[:-8]
    )
    assert (await submit(yatomi, truncated))["code"] in {"BAD_ENVELOPE", "BAD_SIGNATURE"}


async def test_view_of_an_unknown_or_malformed_notice_is_a_clear_error(public: HubApi) -> None:
    from tests.hub.helpers import new_ulid
    from tests.hub.stats.helpers import VIEW

    body = await public.graphql(VIEW, {"publisher": "gov-cfa", "noticeId": new_ulid()})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    body = await public.graphql(VIEW, {"publisher": "nobody", "noticeId": "x"})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_concurrent_submits_keep_one_report_and_the_latest_as_of(
    yatomi: HubApi, public: HubApi, notice_id: str
) -> None:
    import asyncio

    same = sign_report(yatomi_report(notice_id))
    results = await asyncio.gather(*(submit(yatomi, same) for _ in range(6)))
    assert sorted(r["outcome"] for r in results) == ["DUPLICATE"] * 5 + ["STORED"]

    minutes = [5, 9, 7, 8, 6]
    envelopes = [
        sign_report(
            yatomi_report(
                notice_id,
                as_of=AS_OF + timedelta(minutes=m),
                raw=counts(targeted=100 + m * 10, sent=100 + m * 10),
            )
        )
        for m in minutes
    ]
    results = await asyncio.gather(*(submit(yatomi, e) for e in envelopes))
    assert all(r["__typename"] == "ReportAccepted" for r in results), results
    [phase] = (await view(public, "gov-cfa", notice_id))["phases"]
    assert phase["municipalities"][0]["counts"]["targeted"] == 190  # as_of + 9 minutes won


CONTRACT_FORM = """
mutation($envelope: SignedEnvelopeInput!) {
  submitReport(envelope: $envelope) {
    ... on ReportAccepted { outcome }
    ... on ReportRejected { code }
  }
}
"""


async def test_a_client_written_to_the_contract_signature_works(
    yatomi: HubApi, notice_id: str
) -> None:
    """CONTRACT §7 writes ``submitReport(envelope: SignedEnvelopeInput!)``: that document, as
    written there, is what the hub takes."""
    envelope = sign_report(yatomi_report(notice_id))
    body = await yatomi.graphql(CONTRACT_FORM, {"envelope": envelope.model_dump()})
    assert body["data"]["submitReport"] == {"outcome": "STORED"}, body


def test_the_schema_has_the_report_operations() -> None:
    from hub.schema_export import render

    text = render()
    assert "submitReport(envelope: SignedEnvelopeInput!): SubmitReportResult!" in text
    assert "union SubmitReportResult = ReportAccepted | ReportRejected" in text
    assert "deliveryReports(publisher: String!, noticeId: String!): DeliveryReports!" in text
