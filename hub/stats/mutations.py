"""GraphQL mutation ``submitReport``: thin — authenticate, parse, call the service, render."""

from __future__ import annotations

import strawberry

from contracts.errors import RejectionCode
from contracts.jws import SignedEnvelope
from hub.graphql.context import UNAUTHENTICATED_MESSAGE, Info
from hub.graphql.types import RejectionCodeType, SignedEnvelopeInput
from hub.stats.schemas import (
    ReportAcceptedType,
    ReportOutcomeType,
    ReportRejectedType,
    SubmitReportResult,
)
from hub.stats.service import ReportAccepted, submit_report


def rejected(code: RejectionCode, message: str) -> ReportRejectedType:
    return ReportRejectedType(code=RejectionCodeType(code.value), message=message)


async def resolve_submit_report(
    info: Info,
    envelope: SignedEnvelopeInput,
) -> SubmitReportResult:
    subscriber = await info.context.find_subscriber()
    if subscriber is None:
        return rejected(RejectionCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
    wire = SignedEnvelope(
        protected=envelope.protected, payload=envelope.payload, signature=envelope.signature
    )
    hub = info.context.hub
    async with hub.transaction() as session:
        result = await submit_report(
            session, municipality=subscriber.municipality, envelope=wire, now=hub.clock.now()
        )
    if isinstance(result, ReportAccepted):
        return ReportAcceptedType(
            municipality=result.municipality,
            publisher=result.publisher,
            notice_id=result.notice_id,
            phase=result.phase,
            as_of=result.as_of,
            digest=result.digest,
            outcome=ReportOutcomeType(result.outcome.value),
        )
    return rejected(result.code, result.message)


@strawberry.type
class StatsMutations:
    submit_report: SubmitReportResult = strawberry.mutation(
        resolver=resolve_submit_report,
        description=(
            "Store a node's signed delivery report (CONTRACT §6, typ todoke-report+jws, signed "
            "with the node key registered for the caller). Needs Authorization: Bearer "
            "<subscriber credential>. The report is a flattened JWS (CONTRACT §7). A report replaces "
            "the stored one for its (municipality, notice, phase) only if its as_of is later."
        ),
    )
