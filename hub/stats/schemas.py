"""GraphQL types of delivery reports (``submitReport`` and ``deliveryReports``)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from hub.graphql.types import RejectionCodeType
from hub.stats.service import MunicipalityReport, NoticeReports, PhaseReports, TotalCell

Count = NewType("Count", int)

# ``build_schema`` passes these to ``StrawberryConfig(scalar_map=...)``.
SCALARS: dict[object, ScalarDefinition] = {
    Count: strawberry.scalar(
        name="Count",
        serialize=int,
        parse_value=int,
        description="A count: a JSON integer >= 0, up to 2^53 - 1 (GraphQL's Int stops at 2^31 - 1).",
    )
}


def _count(value: int | None) -> Count | None:
    return None if value is None else Count(value)


@strawberry.enum(name="ReportOutcome")
class ReportOutcomeType(Enum):
    STORED = "STORED"
    REPLACED = "REPLACED"
    DUPLICATE = "DUPLICATE"
    OUTDATED = "OUTDATED"


@strawberry.type(name="ReportAccepted")
class ReportAcceptedType:
    municipality: str
    publisher: str
    notice_id: str
    phase: str
    as_of: datetime = strawberry.field(
        description="as_of of the report the hub now holds (the stored, later one when OUTDATED)."
    )
    digest: str = strawberry.field(description="SHA-256 of the payload of the report now held.")
    outcome: ReportOutcomeType = strawberry.field(
        description="STORED (first), REPLACED (later as_of), DUPLICATE (same report again), "
        "OUTDATED (an earlier as_of than the stored report: the stored report stays)."
    )


@strawberry.type(name="ReportRejected")
class ReportRejectedType:
    code: RejectionCodeType
    message: str


SubmitReportResult = Annotated[
    ReportAcceptedType | ReportRejectedType, strawberry.union("SubmitReportResult")
]


@strawberry.type(name="ReportCounts")
class ReportCountsType:
    """Counts as the node published them; null where it withheld one (small cell)."""

    targeted: Count | None
    sent: Count | None
    failed: Count | None
    blocked: Count | None
    opened: Count | None
    clicked: Count | None
    applied: Count | None


@strawberry.type(name="MunicipalityReport")
class MunicipalityReportType:
    municipality: str
    name: str | None
    as_of: datetime
    received_at: datetime
    counts: ReportCountsType
    suppressed: list[str]

    @classmethod
    def of(cls, report: MunicipalityReport) -> MunicipalityReportType:
        return cls(
            municipality=report.municipality,
            name=report.name,
            as_of=report.as_of,
            received_at=report.received_at,
            counts=ReportCountsType(**{name: _count(v) for name, v in report.counts.items()}),
            suppressed=report.suppressed,
        )


@strawberry.type(name="ReportTotal")
class ReportTotalType:
    value: Count | None = strawberry.field(
        description="Sum over the municipalities that published this count (null if none did)."
    )
    complete: bool = strawberry.field(
        description="True when no reporting municipality withheld this count: value is the total."
    )
    withheld: int = strawberry.field(
        description="Reporting municipalities that withheld this count (value excludes them)."
    )

    @classmethod
    def of(cls, total: TotalCell) -> ReportTotalType:
        return cls(value=_count(total.value), complete=total.complete, withheld=total.withheld)


@strawberry.type(name="ReportTotals")
class ReportTotalsType:
    """Phase totals over published cells only; a withheld cell is never part of a total."""

    municipalities: int = strawberry.field(description="Municipalities that reported the phase.")
    targeted: ReportTotalType
    sent: ReportTotalType
    failed: ReportTotalType
    blocked: ReportTotalType
    opened: ReportTotalType
    clicked: ReportTotalType
    applied: ReportTotalType


@strawberry.type(name="PhaseReports")
class PhaseReportsType:
    phase: str = strawberry.field(description="preview | open | reminder | single")
    municipalities: list[MunicipalityReportType]
    totals: ReportTotalsType

    @classmethod
    def of(cls, phase: PhaseReports) -> PhaseReportsType:
        totals = {name: ReportTotalType.of(cell) for name, cell in phase.totals.items()}
        return cls(
            phase=phase.phase,
            municipalities=[MunicipalityReportType.of(r) for r in phase.municipalities],
            totals=ReportTotalsType(municipalities=len(phase.municipalities), **totals),
        )


@strawberry.type(name="DeliveryReports")
class DeliveryReportsType:
    publisher: str
    notice_id: str
    headline: str = strawberry.field(description="The notice's content.ja.headline.")
    program: str = strawberry.field(description="The notice's program.name.")
    phases: list[PhaseReportsType]

    @classmethod
    def of(cls, view: NoticeReports) -> DeliveryReportsType:
        return cls(
            publisher=view.publisher,
            notice_id=view.notice_id,
            headline=view.headline,
            program=view.program,
            phases=[PhaseReportsType.of(phase) for phase in view.phases],
        )
