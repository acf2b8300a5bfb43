"""Builders for hub stats tests: node keys, signed reports and the two GraphQL operations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from contracts.jws import TYP_REPORT, SignedEnvelope, sign
from contracts.keys import private_key_from_seed
from contracts.report import suppress_counts
from tests.hub.helpers import NOW, HubApi

YATOMI, NAGOYA = "23235", "23100"
YATOMI_KEY = private_key_from_seed(bytes(range(100, 132)))
NAGOYA_KEY = private_key_from_seed(bytes(range(132, 164)))
YATOMI_KID, NAGOYA_KID = f"muni-{YATOMI}/report1", f"muni-{NAGOYA}/report1"
AS_OF = NOW - timedelta(hours=1)

SUBMIT = """
mutation($envelope: SignedEnvelopeInput!) {
  submitReport(envelope: $envelope) {
    __typename
    ... on ReportAccepted { municipality publisher noticeId phase asOf digest outcome }
    ... on ReportRejected { code message }
  }
}
"""

VIEW = """
query($publisher: String!, $noticeId: String!) {
  deliveryReports(publisher: $publisher, noticeId: $noticeId) {
    publisher noticeId
    phases {
      phase
      municipalities {
        municipality name asOf suppressed
        counts { targeted sent failed blocked opened clicked applied }
      }
      totals {
        municipalities
        targeted { value complete withheld } sent { value complete withheld }
        failed { value complete withheld } blocked { value complete withheld }
        opened { value complete withheld } clicked { value complete withheld }
        applied { value complete withheld }
      }
    }
  }
}
"""


def counts(**values: int) -> dict[str, int]:
    """Raw counts (before suppression); unnamed ones are 0."""
    names = ("targeted", "sent", "failed", "blocked", "opened", "clicked", "applied")
    return {name: values.get(name, 0) for name in names}


def report_payload(
    *,
    municipality: str,
    publisher: str,
    notice_id: str,
    phase: str = "open",
    as_of: datetime = AS_OF,
    raw: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A valid report payload: ``raw`` counts suppressed as the contract requires."""
    published, withheld = suppress_counts(
        raw or counts(targeted=120, sent=100, failed=10, blocked=10, opened=40, clicked=25)
    )
    return {
        "schema": "todoke.report/1",
        "municipality": municipality,
        "notice": {"publisher": publisher, "notice_id": notice_id},
        "phase": phase,
        "as_of": as_of.isoformat().replace("+00:00", "Z"),
        "counts": published,
        "suppressed": withheld,
    }


def sign_report(
    payload: Mapping[str, Any], *, key: Any = YATOMI_KEY, kid: str = YATOMI_KID
) -> SignedEnvelope:
    return sign(payload, typ=TYP_REPORT, kid=kid, private_key=key)


async def submit(
    api: HubApi,
    envelope: SignedEnvelope,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    variables = {"envelope": envelope.model_dump()}
    body = await api.graphql(SUBMIT, variables, headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["submitReport"]
    return result


async def view(api: HubApi, publisher: str, notice_id: str) -> dict[str, Any]:
    body = await api.graphql(VIEW, {"publisher": publisher, "noticeId": notice_id})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["deliveryReports"]
    return result
