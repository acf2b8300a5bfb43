"""Sending: claimed batches go to LINE; outcomes are recorded in short transactions.

For one batch, in three steps (the pool runs each step as its own stage, see ``pool``):

1. ``prepare``: for the few batches about to be sent, one query finds whether their jobs
   may still send (a cancel, an expiry or a hold after the claim withdraws the batch:
   ``cancelled``, never sent) and one reachability query drops the users who unfollowed or
   chose "stop all" since planning (autocommit: no transaction around them);
2. ``attempt``: the channel's token bucket, then ONE multicast with the batch's retry key,
   outside any transaction;
3. ``record``: the outcomes of many batches in one short transaction — the batch rows (one
   ``executemany`` per kind), one audit row per batch sent (counts only), and the end of
   every job whose last pending batch this was:

- 200, or 409 (an earlier attempt was accepted) → ``sent``;
- 429 / 5xx / timeout → back to ``pending``, next attempt not before a backoff with full
  jitter (``base·2^(n-1)`` capped); after ``attempts`` attempts → ``failed``, saying why;
- other 4xx → ``failed`` with LINE's message.
A batch whose users all left is ``sent`` to nobody, without a request.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from municipal_node.applications.repository import applied_user_ids
from municipal_node.audit.models import AuditEntry
from municipal_node.clock import Clock
from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.db.engine import unit_of_work
from municipal_node.delivery.line_client import (
    InvalidMessagesError,
    LineClient,
    MulticastTemplate,
    SendOutcome,
    SendResult,
)
from municipal_node.delivery.ratelimit import TokenBucket
from municipal_node.dispatch import households, progress, repository
from municipal_node.dispatch.repository import ClaimedBatch, FailedAttempt, Sent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOptions:
    attempts: int = 20
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 60.0
    lease_seconds: float = 60.0


@dataclass(frozen=True)
class JobTemplate:
    publisher: str
    notice_id: str
    phase: str
    template: MulticastTemplate | None
    error: str | None
    #: a campaign reminder: applicants of this campaign are dropped right before each request
    exclude_campaign_id: int | None = None


@dataclass(frozen=True)
class Prepared:
    batch: ClaimedBatch
    job: JobTemplate
    recipients: list[str]
    dropped: set[str]
    #: the job stopped (cancelled, expired, held) after the claim: not sent, ``cancelled``
    withdrawn: bool = False


@dataclass(frozen=True)
class Attempted:
    prepared: Prepared
    outcome: SendOutcome
    #: whether a request was made (not for a batch everyone left, or unsendable messages)
    requested: bool


class BatchSender:
    """Sends one tenant's claimed batches through one LINE client and one token bucket."""

    def __init__(
        self,
        *,
        tenant_code: str,
        sessions: async_sessionmaker[AsyncSession],
        sealer: Sealer,
        clock: Clock,
        client: LineClient,
        bucket: TokenBucket,
        options: SendOptions,
        worker: str,
        rng: random.Random | None = None,
    ) -> None:
        self.tenant_code = tenant_code
        self._sessions = sessions
        self._sealer = sealer
        self._clock = clock
        self._client = client
        self._bucket = bucket
        self._options = options
        self.worker = worker
        self._rng = rng or random.SystemRandom()
        self._jobs: dict[int, JobTemplate] = {}

    async def claim(self, limit: int) -> list[ClaimedBatch]:
        now = self._clock.now()
        async with unit_of_work(self._sessions) as session:
            return await repository.claim_batches(
                session,
                self.tenant_code,
                worker=self.worker,
                now=now,
                lease_until=now + timedelta(seconds=self._options.lease_seconds),
                limit=limit,
            )

    async def release(self, batches: Sequence[ClaimedBatch]) -> None:
        if batches:
            async with unit_of_work(self._sessions) as session:
                await repository.release_claims(
                    session, [b.id for b in batches], worker=self.worker
                )

    async def _job(self, job_id: int) -> JobTemplate:
        cached = self._jobs.get(job_id)
        if cached is not None:
            return cached
        async with self._sessions() as session:
            job = await repository.get_job(session, self.tenant_code, job_id)
        if job is None:  # the foreign key makes this impossible
            raise LookupError(f"send job {job_id} of tenant {self.tenant_code} is missing")
        template: MulticastTemplate | None = None
        error: str | None = None
        try:
            template = MulticastTemplate(job.messages, job.aggregation_unit)
        except InvalidMessagesError as exc:
            error = f"LINE が受け付けないメッセージです / LINE would refuse the messages: {exc}"
        entry = JobTemplate(
            job.publisher, job.notice_id, job.phase, template, error, job.exclude_campaign_id
        )
        if len(self._jobs) >= 256:
            self._jobs.clear()
        self._jobs[job_id] = entry
        return entry

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base·2^(attempt-1)))."""
        ceiling = self._options.backoff_base_seconds * (2 ** min(attempt - 1, 30))
        return self._rng.uniform(0, min(self._options.backoff_cap_seconds, ceiling))

    async def prepare(self, batches: Sequence[ClaimedBatch]) -> list[Prepared]:
        """Drop, right before sending, the users no longer reachable: ONE query for these
        batches (the pipeline passes the few batches about to be sent), no transaction."""
        jobs = [await self._job(batch.job_id) for batch in batches]
        async with self._sessions() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            sendable = await repository.sendable_jobs(
                session, self.tenant_code, [b.job_id for b in batches], now=self._clock.now()
            )
            live = [batch for batch in batches if batch.job_id in sendable]
            dropped = await repository.unreachable(
                session, self.tenant_code, [u for batch in live for u in batch.user_ids]
            )
            excluded = {j.exclude_campaign_id for j in jobs if j.exclude_campaign_id is not None}
            for campaign_id in excluded:
                dropped |= await applied_user_ids(
                    session,
                    self.tenant_code,
                    campaign_id,
                    [
                        u
                        for batch, job in zip(batches, jobs, strict=True)
                        if job.exclude_campaign_id == campaign_id and batch.job_id in sendable
                        for u in batch.user_ids
                    ],
                )
        prepared = []
        for batch, job in zip(batches, jobs, strict=True):
            if batch.job_id not in sendable:
                prepared.append(Prepared(batch, job, [], set(), withdrawn=True))
                continue
            gone = dropped.intersection(batch.user_ids) if dropped else set()
            recipients = [u for u in batch.user_ids if u not in gone] if gone else batch.user_ids
            prepared.append(Prepared(batch, job, recipients, gone))
        return prepared

    async def attempt(self, prepared: Prepared, *, paced: bool = True) -> Attempted:
        """One request; ``paced=False`` when the caller already took a token for it."""
        if prepared.withdrawn:
            return Attempted(prepared, SendOutcome(SendResult.FAILED, None, "withdrawn"), False)
        if prepared.job.template is None:
            return Attempted(
                prepared, SendOutcome(SendResult.FAILED, None, prepared.job.error), False
            )
        if not prepared.recipients:
            return Attempted(prepared, SendOutcome(SendResult.SENT, None, None), False)
        if paced:
            await self._bucket.acquire()
        request = prepared.job.template.request(prepared.recipients)
        outcome = await self._client.multicast(request, retry_key=prepared.batch.retry_key)
        return Attempted(prepared, outcome, True)

    async def send(self, batch: ClaimedBatch) -> SendResult:
        """All three steps for one batch (tests, ``drain``)."""
        [prepared] = await self.prepare([batch])
        attempted = await self.attempt(prepared)
        await self.record([attempted])
        return attempted.outcome.result

    def _sent_households(self, batch: ClaimedBatch, dropped: set[str]) -> dict[str, int]:
        if not dropped:
            return dict(batch.household_counts)
        opened: list[tuple[str, ...]] | None = None
        if batch.households_sealed is not None:
            try:
                opened = households.open_sealed(
                    self._sealer,
                    tenant_code=self.tenant_code,
                    job_id=batch.job_id,
                    batch_no=batch.batch_no,
                    sealed=batch.households_sealed,
                )
            except (DecryptionError, ValueError):
                log.error(
                    "tenant %s: household list of batch %d does not open; per-household "
                    "sent counts of it are left out",
                    self.tenant_code,
                    batch.id,
                )
                return {}
        return households.sent_counts(
            batch.household_counts, user_ids=batch.user_ids, dropped=dropped, households=opened
        )

    async def record(self, attempts: Sequence[Attempted]) -> None:
        """The outcomes of ``attempts`` in one transaction."""
        now = self._clock.now()
        sent: list[Sent] = []
        failed: list[FailedAttempt] = []
        audits: list[AuditEntry] = []
        finished_jobs: dict[int, JobTemplate] = {}
        withdrawn: list[int] = []
        for attempted in attempts:
            prepared, outcome = attempted.prepared, attempted.outcome
            batch, job = prepared.batch, prepared.job
            if prepared.withdrawn:
                withdrawn.append(batch.id)
                finished_jobs[batch.job_id] = job
                continue
            count = batch.attempts + int(attempted.requested)
            error = outcome.error or f"HTTP {outcome.status}"
            result = outcome.result
            if result is SendResult.SENT:
                sent.append(
                    Sent(
                        batch.id,
                        count,
                        len(prepared.recipients),
                        self._sent_households(batch, prepared.dropped),
                    )
                )
            elif result is SendResult.FAILED or count >= self._options.attempts:
                if result is SendResult.RETRY_LATER:
                    error = (
                        f"{count} 回試行しても送信できませんでした / gave up after {count} "
                        f"attempts; last error: {error}"
                    )
                    result = SendResult.FAILED
                failed.append(FailedAttempt(batch.id, count, error, None))
                log.error(
                    "tenant %s: batch %d of job %d failed for good: %s",
                    self.tenant_code, batch.batch_no, batch.job_id, error,
                )  # fmt: skip
            else:
                retry_at = now + timedelta(seconds=self.backoff(count))
                failed.append(FailedAttempt(batch.id, count, error, retry_at))
                log.info(
                    "tenant %s: batch %d of job %d: attempt %d got %s; retried later",
                    self.tenant_code, batch.batch_no, batch.job_id, count,
                    outcome.status or "no answer",
                )  # fmt: skip
            if result is not SendResult.RETRY_LATER:
                finished_jobs[batch.job_id] = job
            audits.append(
                AuditEntry(
                    tenant_code=self.tenant_code,
                    actor="dispatcher",
                    action="line.multicast",
                    at=now,
                    count=len(prepared.recipients) if attempted.requested else 0,
                    detail={
                        "publisher": job.publisher,
                        "notice_id": job.notice_id,
                        "phase": job.phase,
                        "job_id": batch.job_id,
                        "batch_no": batch.batch_no,
                        "result": str(result),
                        "status": outcome.status,
                        "attempt": count,
                        "dropped": len(prepared.dropped),
                        "worker": self.worker,
                    },
                )
            )
        async with unit_of_work(self._sessions) as session:
            await repository.record_outcomes(
                session, worker=self.worker, now=now, sent=sent, failed=failed
            )
            await repository.withdraw(session, withdrawn, worker=self.worker, now=now)
            session.add_all(audits)
            await session.flush()
            for job_id, job in finished_jobs.items():
                state = await repository.finish_if_drained(
                    session, self.tenant_code, job_id, now=now
                )
                if state is not None:
                    await progress.mirror(
                        session, tenant_code=self.tenant_code, publisher=job.publisher,
                        notice_id=job.notice_id, phase=job.phase, job_state=state, now=now,
                    )  # fmt: skip
