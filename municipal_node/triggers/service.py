"""Date triggers: settings per tenant, and the daily run that fires them.

The daily run (task ``triggers_daily`` keyed by its JST day, due at 09:00 JST) streams, per
topic of the enabled triggers, the linked residents whose LINE user is a friend, not
stopped, and chose that topic (``friend_preferences``) — the segments' page query, keyset
by LINE user id, one page in memory. Each page's sealed records are opened in a worker
thread; every child whose trigger is due today (``definitions``) becomes a ``trigger_fires``
row (insert-or-ignore on (tenant, trigger, subject_key): each child fires once, whatever
runs twice). Then one send job per (trigger, day) with spec ``{"source": "trigger_fires",
"fire_key": K}`` when anyone fired under K, an audit record per trigger, and the next day's
task — all in the task's transaction.

``subject_key`` is ``Sealer.digest`` of (tenant, resident id, child's birth date): never the
raw id. Twins share a birth date and so one fire: one message per household and trigger. A LINE
user is reached by a trigger at most once within the trigger's ``window_days`` (twins born
either side of midnight; subject keys that changed with a key rotation), so one fire key never
names a user twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from municipal_node.audit import repository as audit
from municipal_node.crypto import DecryptionError, Sealer
from municipal_node.dispatch.jobs import LOCAL_PUBLISHER, insert_send_job
from municipal_node.dispatch.models import Phase
from municipal_node.recurring.content import Content, render
from municipal_node.recurring.service import check_wording, template_for
from municipal_node.residents.schemas import open_attributes
from municipal_node.scheduler import service as scheduler
from municipal_node.segments import repository as segments
from municipal_node.segments.ages import JST, jst_date
from municipal_node.segments.match import Row
from municipal_node.segments.schemas import shown_count
from municipal_node.triggers import repository
from municipal_node.triggers.definitions import DEFINITIONS, TriggerDefinition, fire_key
from municipal_node.triggers.models import TriggerSetting
from municipal_node.triggers.repository import KIND
from municipal_node.triggers.schemas import TriggerOut, TriggerSettingIn

log = logging.getLogger(__name__)

ACTOR = "scheduler"
RUN_AT = time(9, 0)
PAGE_SIZE = 2000
SEND_DAYS = 3
_SUBJECT_LABEL = "todoke.trigger-subject/v1"


def daily_key(day: date) -> str:
    return f"{KIND}:{day.isoformat()}"


def subject_key(sealer: Sealer, tenant_code: str, resident_id: str, born: date) -> str:
    text = f"{_SUBJECT_LABEL}\x1f{tenant_code}\x1f{resident_id}\x1f{born.isoformat()}"
    return sealer.digest(text.encode("utf-8"))


# --- settings --------------------------------------------------------------------------------


async def _next_run(session: AsyncSession, tenant_code: str) -> datetime | None:
    pending = await repository.pending_daily(session, tenant_code)
    return pending[0].due_at if pending else None


async def list_triggers(session: AsyncSession, *, tenant_code: str) -> list[TriggerOut]:
    """Every trigger the node knows, as this tenant has it (off until set)."""
    settings = {s.trigger: s for s in await repository.list_settings(session, tenant_code)}
    fired = await repository.count_fires(session, tenant_code)
    next_run = await _next_run(session, tenant_code)
    found: list[TriggerOut] = []
    for code, definition in DEFINITIONS.items():
        setting = settings.get(code)
        found.append(
            TriggerOut(
                trigger=code,
                label=definition.label,
                topic=definition.topic,
                enabled=setting is not None and setting.enabled,
                headline=setting.headline if setting else definition.default_headline,
                body=setting.body if setting else definition.default_body,
                url=setting.url if setting else None,
                template_id=setting.template_id if setting else None,
                mode=setting.mode if setting else "auto",
                updated_by=setting.updated_by if setting else None,
                updated_at=setting.updated_at if setting else None,
                fired=shown_count(fired.get(code, 0)),
                next_run_at=next_run.astimezone(JST) if next_run else None,
            )
        )
    return found


async def set_trigger(
    session: AsyncSession, *, tenant_code: str, data: TriggerSettingIn, actor: str, now: datetime
) -> TriggerOut:
    definition = DEFINITIONS[data.trigger]
    await check_wording(
        session,
        tenant_code=tenant_code,
        wording=data,
        program_name=definition.label,
        allow_date=False,
    )
    setting = await repository.get_setting(session, tenant_code, data.trigger)
    if setting is None:
        setting = TriggerSetting(tenant_code=tenant_code, trigger=data.trigger)
        session.add(setting)
    setting.enabled = data.enabled
    setting.headline = data.headline
    setting.body = data.body
    setting.url = data.url
    setting.template_id = data.template_id
    setting.mode = data.mode
    setting.updated_by = actor
    setting.updated_at = now
    await session.flush()
    await ensure_daily(session, tenant_code=tenant_code, now=now)
    await audit.record(
        session,
        tenant_code=tenant_code,
        actor=actor,
        action="triggers.set",
        at=now,
        count=0,
        detail={"trigger": data.trigger, "enabled": data.enabled},
    )
    return next(
        t
        for t in await list_triggers(session, tenant_code=tenant_code)
        if t.trigger == data.trigger
    )


async def ensure_daily(
    session: AsyncSession, *, tenant_code: str, now: datetime, after_day: date | None = None
) -> datetime | None:
    """One pending daily task while any trigger is on, none otherwise. ``after_day``: called
    by that day's task (left alone), the next one is the day after (or today, when late)."""
    settings = await repository.list_settings(session, tenant_code)
    running = None if after_day is None else daily_key(after_day)
    pending = [t for t in await repository.pending_daily(session, tenant_code) if t.key != running]
    if not any(setting.enabled for setting in settings):
        for task in pending:
            await scheduler.cancel(
                session, tenant_code=tenant_code, kind=KIND, key=task.key, now=now
            )
        return None
    if pending:
        return pending[0].due_at
    today = jst_date(now)
    if after_day is None:
        day = today if datetime.combine(today, RUN_AT, tzinfo=JST) > now else today + timedelta(1)
    else:
        day = max(after_day + timedelta(days=1), today)
    for _ in range(3):
        due = datetime.combine(day, RUN_AT, tzinfo=JST)
        key = daily_key(day)
        payload = {"day": day.isoformat()}
        if await scheduler.schedule(
            session, tenant_code=tenant_code, kind=KIND, key=key, due_at=due, payload=payload,
            now=now,
        ) or await scheduler.reschedule(
            session, tenant_code=tenant_code, kind=KIND, key=key, due_at=due, now=now,
        ):  # fmt: skip
            return due
        day += timedelta(days=1)  # that day ran already
    return None


# --- the daily run ---------------------------------------------------------------------------


@dataclass
class ScanStats:
    scanned: int = 0
    decrypted: int = 0
    unreadable: int = 0
    new: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _due_subjects(
    sealer: Sealer,
    tenant_code: str,
    rows: Sequence[Row],
    definitions: Sequence[TriggerDefinition],
    today: date,
) -> tuple[dict[str, list[tuple[str, str]]], int, int]:
    """(trigger → [(subject_key, line_user_id)], decrypted, unreadable) for one page."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    decrypted = unreadable = 0
    for row in rows:
        if row.resident_id is None or row.sealed is None:
            continue
        decrypted += 1
        try:
            attributes = open_attributes(
                sealer, tenant_code=tenant_code, resident_id=row.resident_id, sealed=row.sealed
            )
        except (DecryptionError, ValueError, KeyError, TypeError):
            unreadable += 1
            continue
        for born in dict.fromkeys(attributes.child_birth_dates):
            for definition in definitions:
                if definition.due(born, today):
                    subject = subject_key(sealer, tenant_code, row.resident_id, born)
                    found[definition.code].append((subject, row.user_id))
    return found, decrypted, unreadable


async def _first_per_user(
    session: AsyncSession,
    *,
    tenant_code: str,
    definition: TriggerDefinition,
    subjects: Sequence[tuple[str, str]],
    now: datetime,
) -> list[tuple[str, str]]:
    """One subject per LINE user, and none for a user this trigger reached within its window:
    a user gets one message per trigger (twins born either side of midnight are two subjects;
    after a key rotation a child's subject key is new)."""
    reached = await repository.recently_reached(
        session,
        tenant_code=tenant_code,
        trigger=definition.code,
        user_ids=sorted({user for _, user in subjects}),
        since=now - timedelta(days=definition.window_days),
    )
    kept: dict[str, str] = {}
    for subject, user in subjects:
        if user not in reached and user not in kept:
            kept[user] = subject
    return [(subject, user) for user, subject in kept.items()]


async def _scan_topic(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    topic: str,
    definitions: Sequence[TriggerDefinition],
    day: date,
    today: date,
    now: datetime,
    stats: ScanStats,
    page_size: int,
) -> None:
    after: str | None = None
    while True:
        rows = await repository.candidate_page(
            session, tenant_code=tenant_code, topic=topic, after=after, limit=page_size
        )
        if not rows:
            return
        after = rows[-1].user_id
        stats.scanned += len(rows)
        found, decrypted, unreadable = await asyncio.to_thread(
            _due_subjects, sealer, tenant_code, rows, definitions, today
        )
        stats.decrypted += decrypted
        stats.unreadable += unreadable
        for trigger, subjects in found.items():
            subjects = await _first_per_user(
                session,
                tenant_code=tenant_code,
                definition=DEFINITIONS[trigger],
                subjects=subjects,
                now=now,
            )
            stats.new[trigger] += await repository.insert_fires(
                session,
                tenant_code=tenant_code,
                trigger=trigger,
                fire_key=fire_key(trigger, day),
                subjects=subjects,
                now=now,
            )
        if len(rows) < page_size:
            return


async def run_daily(
    session: AsyncSession,
    *,
    sealer: Sealer,
    tenant_code: str,
    tenant_name: str,
    day: date,
    now: datetime,
    page_size: int = PAGE_SIZE,
) -> dict[str, int | None]:
    """Fire the enabled triggers for ``day``; trigger → job id (None: nobody fired)."""
    today = jst_date(now)
    settings = [s for s in await repository.list_settings(session, tenant_code) if s.enabled]
    by_topic: dict[str, list[TriggerDefinition]] = defaultdict(list)
    for setting in settings:
        definition = DEFINITIONS.get(setting.trigger)
        if definition is not None:
            by_topic[definition.topic].append(definition)
    stats = ScanStats()
    if by_topic:
        await segments.ensure_statistics(session)
    for topic, definitions in by_topic.items():
        await _scan_topic(
            session,
            sealer=sealer,
            tenant_code=tenant_code,
            topic=topic,
            definitions=definitions,
            day=day,
            today=today,
            now=now,
            stats=stats,
            page_size=page_size,
        )
    if stats.unreadable:
        log.error(
            "tenant %s: %d sealed record(s) could not be decrypted during the date-trigger run "
            "and were left out (wrong encryption key?)",
            tenant_code,
            stats.unreadable,
        )
    if settings:
        await audit.record(
            session,
            tenant_code=tenant_code,
            actor=ACTOR,
            action="triggers.scan",
            at=now,
            count=stats.decrypted,
            detail={
                "day": day.isoformat(),
                "scanned": stats.scanned,
                "unreadable": stats.unreadable,
                "triggers": [s.trigger for s in settings],
            },
        )
    jobs: dict[str, int | None] = {}
    for setting in settings:
        jobs[setting.trigger] = await _send(
            session, setting=setting, tenant_name=tenant_name, day=day, now=now, stats=stats
        )
    await ensure_daily(session, tenant_code=tenant_code, now=now, after_day=day)
    return jobs


async def _send(
    session: AsyncSession,
    *,
    setting: TriggerSetting,
    tenant_name: str,
    day: date,
    now: datetime,
    stats: ScanStats,
) -> int | None:
    """The day's job of one trigger, when anyone fired under its key (created once)."""
    key = fire_key(setting.trigger, day)
    fired = (await repository.count_fires(session, setting.tenant_code, fire_key=key)).get(
        setting.trigger, 0
    )
    job_id: int | None = None
    if fired:
        definition = DEFINITIONS[setting.trigger]
        template = await template_for(session, setting.tenant_code, setting.template_id)
        content = Content(setting.headline, setting.body, setting.url, definition.label)
        job_id = await insert_send_job(
            session,
            tenant_code=setting.tenant_code,
            publisher=LOCAL_PUBLISHER,
            notice_id=key,
            phase=Phase.NOTICE,
            spec={"source": "trigger_fires", "fire_key": key},
            messages=render(content, template=template, tenant_name=tenant_name),
            send_until=now + timedelta(days=SEND_DAYS),
            now=now,
            approval=setting.mode,
        )
    await audit.record(
        session,
        tenant_code=setting.tenant_code,
        actor=ACTOR,
        action="triggers.fire",
        at=now,
        count=fired,
        detail={
            "trigger": setting.trigger,
            "fire_key": key,
            "new": stats.new.get(setting.trigger, 0),
            "job_id": job_id,
        },
    )
    return job_id
