"""The rules of delivery reports at the hub: accept a node's signed report, and build the
cross-municipality view with totals that never reveal a withheld cell (see ``phase_totals``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.errors import ContractError, RejectionCode
from contracts.ids import PUBLISHER_ID_RE, ULID_RE, area_covers
from contracts.jws import SignedEnvelope, digest
from contracts.keys import public_key_from_jwk
from contracts.notice import Notice, parse_notice
from contracts.report import COUNT_NAMES, Phase, Report
from contracts.verify import MAX_CLOCK_SKEW, verify_report
from hub.publishers.models import StoredNotice
from hub.publishers.repository import PublisherRepository
from hub.stats.models import DeliveryReport
from hub.stats.repository import ReportKey, ReportRepository
from hub.subscribers.repository import FeedRepository, SubscriberRepository

PHASE_ORDER = tuple(phase.value for phase in Phase)  # preview, open, reminder, single


class Outcome(StrEnum):
    STORED = "STORED"  # the first report for this (municipality, notice, phase)
    REPLACED = "REPLACED"  # a later as_of replaced the stored report
    DUPLICATE = "DUPLICATE"  # the very same report again: nothing changed
    OUTDATED = "OUTDATED"  # an earlier as_of than the stored report: the stored one stays


@dataclass(frozen=True)
class ReportAccepted:
    municipality: str
    publisher: str
    notice_id: str
    phase: str
    as_of: datetime  # of the report now stored (the stored, later one when OUTDATED)
    digest: str  # of the report now stored
    outcome: Outcome


@dataclass(frozen=True)
class ReportRefused:
    code: RejectionCode
    message: str


def _refuse(code: RejectionCode, message: str) -> ReportRefused:
    return ReportRefused(code=code, message=message)


async def submit_report(
    session: AsyncSession, *, municipality: str, envelope: SignedEnvelope, now: datetime
) -> ReportAccepted | ReportRefused:
    """Verify ``envelope`` as a report of the authenticated subscriber ``municipality`` and store
    it unless the stored report for its (notice, phase) is at least as recent.

    Checks, each with its code: the subscriber has a registered node key (``UNKNOWN_KEY``);
    the envelope as ``contracts.verify.verify_report`` does with that key — so a report signed
    with another tenant's key is ``BAD_SIGNATURE`` — including the suppression rules of
    ``contracts.report`` (``SCHEMA_INVALID``); ``municipality`` is the caller's
    (``WRONG_PUBLISHER``); ``as_of`` not more than 5 minutes ahead of the hub's clock
    (``SCHEMA_INVALID``); the notice is one this hub accepted (``BAD_REFERENCE``) and addressed
    to the caller's municipality (``SCOPE_DENIED``). The same ``as_of`` with other counts is
    ``EQUIVOCATION``.
    """
    subscriber = await SubscriberRepository(session).get(municipality)
    if subscriber is None or subscriber.node_jwk is None:
        return _refuse(
            RejectionCode.UNKNOWN_KEY,
            f"{municipality} のノード報告鍵がハブに登録されていません / no node report key is "
            f"registered for subscriber {municipality}",
        )
    try:
        report = verify_report(envelope, public_key=public_key_from_jwk(subscriber.node_jwk))
    except ContractError as exc:
        return _refuse(exc.code, exc.message)
    if report.municipality != municipality:
        return _refuse(
            RejectionCode.WRONG_PUBLISHER,
            f"報告の市区町村 {report.municipality} は認証された購読者 {municipality} と異なります / "
            f"the report is for {report.municipality}, the caller is {municipality}",
        )
    if report.as_of > now + MAX_CLOCK_SKEW:
        return _refuse(
            RejectionCode.SCHEMA_INVALID,
            "as_of がハブの時刻より5分以上先です / as_of is more than 5 minutes in the future",
        )
    refused = await _check_notice(session, report, municipality)
    if refused is not None:
        return refused
    return await _store(session, report=report, envelope=envelope, now=now)


async def _check_notice(
    session: AsyncSession, report: Report, municipality: str
) -> ReportRefused | None:
    publisher, notice_id = report.notice.publisher, report.notice.notice_id
    notice = await PublisherRepository(session).get_notice(publisher, notice_id)
    if notice is None:
        return _refuse(
            RejectionCode.BAD_REFERENCE,
            f"お知らせ {publisher}/{notice_id} はこのハブにありません / this hub has no notice "
            f"{publisher}/{notice_id}",
        )
    areas = await FeedRepository(session).areas_of(notice.seq)
    if not any(area_covers(area, municipality) for area in areas):
        return _refuse(
            RejectionCode.SCOPE_DENIED,
            f"お知らせ {publisher}/{notice_id} は {municipality} 宛てではありません / the notice "
            f"is not addressed to {municipality}",
        )
    return None


def _values(report: Report, envelope: SignedEnvelope, now: datetime) -> dict[str, object]:
    counts = report.counts.model_dump()
    return {
        "as_of": report.as_of,
        **{name: counts[name] for name in COUNT_NAMES},
        "kid": str(envelope.header()["kid"]),
        "digest": digest(envelope.payload_bytes()),
        "protected": envelope.protected,
        "payload": envelope.payload,
        "signature": envelope.signature,
        "received_at": now,
    }


async def _store(
    session: AsyncSession, *, report: Report, envelope: SignedEnvelope, now: datetime
) -> ReportAccepted | ReportRefused:
    key = ReportKey(
        publisher_id=report.notice.publisher,
        notice_id=report.notice.notice_id,
        phase=report.phase.value,
        municipality=report.municipality,
    )
    values = _values(report, envelope, now)
    repo = ReportRepository(session)

    def accepted(row_as_of: datetime, row_digest: str, outcome: Outcome) -> ReportAccepted:
        return ReportAccepted(
            municipality=key.municipality,
            publisher=key.publisher_id,
            notice_id=key.notice_id,
            phase=key.phase,
            as_of=row_as_of,
            digest=row_digest,
            outcome=outcome,
        )

    stored = await repo.get_for_update(key)
    if stored is None:
        if await repo.insert_if_absent({**values, **asdict(key)}):
            return accepted(report.as_of, str(values["digest"]), Outcome.STORED)
        stored = await repo.get_for_update(key)  # a concurrent submit stored it first
        if stored is None:  # pragma: no cover - reports are never deleted
            raise RuntimeError("delivery report vanished")
    if report.as_of > stored.as_of:
        await repo.replace(key, values)
        return accepted(report.as_of, str(values["digest"]), Outcome.REPLACED)
    if report.as_of == stored.as_of:
        # Same instant and same counts: the same report (perhaps written with another offset).
        if all(getattr(stored, name) == values[name] for name in COUNT_NAMES):
            return accepted(stored.as_of, stored.digest, Outcome.DUPLICATE)
        return _refuse(
            RejectionCode.EQUIVOCATION,
            "同じ as_of で内容の異なる報告が既にあります / a different report with the same "
            "as_of is stored; send a later as_of to replace it",
        )
    return accepted(stored.as_of, stored.digest, Outcome.OUTDATED)


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class MunicipalityReport:
    municipality: str
    name: str | None
    as_of: datetime
    received_at: datetime
    counts: Mapping[str, int | None]  # every name of COUNT_NAMES; None where withheld

    @property
    def suppressed(self) -> list[str]:
        return [name for name in COUNT_NAMES if self.counts[name] is None]


@dataclass(frozen=True)
class TotalCell:
    """A phase total of one count (``phase_totals``)."""

    value: int | None  # the sum over the municipalities that published the count
    complete: bool  # True when no reporting municipality withheld it
    withheld: int  # how many reporting municipalities withheld it


@dataclass(frozen=True)
class PhaseReports:
    phase: str
    municipalities: Sequence[MunicipalityReport]
    totals: Mapping[str, TotalCell]


@dataclass(frozen=True)
class NoticeReports:
    publisher: str
    notice_id: str
    headline: str  # content.ja.headline of the notice
    program: str  # program.name of the notice
    phases: Sequence[PhaseReports]


@dataclass(frozen=True)
class ReportedNotice:
    publisher: str
    notice_id: str
    headline: str
    program: str
    municipalities: int  # that reported any phase
    latest: datetime  # when the latest report arrived


class ViewRequestError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def phase_totals(reports: Iterable[MunicipalityReport]) -> dict[str, TotalCell]:
    """Totals per count over the municipalities of one phase — the rule that keeps them safe.

    The hub never learns a withheld count (the node sends ``null``), so no total can include
    one. A total is the sum over the municipalities that *published* the count, and says so:
    ``complete`` is True only when no reporting municipality withheld it (then it is the true
    total), else ``withheld`` says how many did and the value is a partial sum (``None`` when
    nobody published the count). Every total is therefore a function of published cells: it
    tells an observer nothing the per-municipality cells do not, and those satisfy the node's
    primary and complementary suppression (``contracts.report``), checked on submit.
    """
    rows = list(reports)
    totals: dict[str, TotalCell] = {}
    for name in COUNT_NAMES:
        published = [r.counts[name] for r in rows if r.counts[name] is not None]
        withheld = len(rows) - len(published)
        totals[name] = TotalCell(
            value=sum(v for v in published if v is not None) if published else None,
            complete=withheld == 0,
            withheld=withheld,
        )
    return totals


def _report_of(row: DeliveryReport, name: str | None) -> MunicipalityReport:
    return MunicipalityReport(
        municipality=row.municipality,
        name=name,
        as_of=row.as_of,
        received_at=row.received_at,
        counts={count: getattr(row, count) for count in COUNT_NAMES},
    )


async def notice_reports(session: AsyncSession, *, publisher: str, notice_id: str) -> NoticeReports:
    """The stored reports of one notice by phase (contract order) and municipality, with
    ``phase_totals``. ``ViewRequestError`` for malformed ids (``BAD_USER_INPUT``) or a notice
    this hub does not have (``NOT_FOUND``)."""
    if PUBLISHER_ID_RE.fullmatch(publisher) is None or ULID_RE.fullmatch(notice_id) is None:
        raise ViewRequestError(
            "BAD_USER_INPUT",
            "発行者IDまたはお知らせIDの形式が不正です / malformed publisher or notice id "
            "(e.g. gov-cfa and a 26-character ULID)",
        )
    stored = await PublisherRepository(session).get_notice(publisher, notice_id)
    if stored is None:
        raise ViewRequestError(
            "NOT_FOUND",
            f"お知らせが見つかりません / this hub has no notice {publisher}/{notice_id}",
        )
    by_phase: dict[str, list[MunicipalityReport]] = {}
    for row, name in await ReportRepository(session).for_notice(
        publisher_id=publisher, notice_id=notice_id
    ):
        by_phase.setdefault(row.phase, []).append(_report_of(row, name))
    phases = [
        PhaseReports(phase=phase, municipalities=rows, totals=phase_totals(rows))
        for phase in PHASE_ORDER
        if (rows := by_phase.get(phase))
    ]
    notice = _notice_of(stored)
    return NoticeReports(
        publisher=publisher,
        notice_id=notice_id,
        headline=notice.content.ja.headline,
        program=notice.program.name,
        phases=phases,
    )


async def reported_notices(session: AsyncSession, *, limit: int = 100) -> list[ReportedNotice]:
    """Notices with reports, most recently reported first (at most ``limit``)."""
    result = []
    for stored, municipalities, latest in await ReportRepository(session).reported_notices(
        limit=limit
    ):
        notice = _notice_of(stored)
        result.append(
            ReportedNotice(
                publisher=stored.publisher_id,
                notice_id=stored.notice_id,
                headline=notice.content.ja.headline,
                program=notice.program.name,
                municipalities=municipalities,
                latest=latest,
            )
        )
    return result


def _notice_of(row: StoredNotice) -> Notice:
    """The stored payload (verified when accepted) parsed again."""
    envelope = SignedEnvelope(protected=row.protected, payload=row.payload, signature=row.signature)
    return parse_notice(envelope.payload_bytes())
