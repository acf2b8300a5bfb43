"""When a campaign's phases are sent: the default times (予告 7 days before opening, 受付開始
at opening, 締切前リマインド 7 days before closing) moved out of quiet hours and, with
``skip_holidays``, off Saturdays, Sundays and public holidays (jpholiday). All in JST."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import jpholiday

from municipal_node.campaigns.models import CampaignPhaseName
from municipal_node.segments.ages import JST

PREVIEW_LEAD = timedelta(days=7)
REMINDER_LEAD = timedelta(days=7)
DEFAULT_QUIET_START = "21:00"
DEFAULT_QUIET_END = "08:00"
BUSINESS_DAY_START = time(9, 0)

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def parse_hhmm(text: str) -> time:
    """``"21:00"`` → 21:00; ValueError (Japanese first) otherwise."""
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(
            f"時刻は HH:MM（00:00〜23:59）で指定してください / time must be HH:MM: {text!r}"
        )
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class SendRules:
    """Quiet hours (JST; start == end: none) and whether to skip non-business days."""

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    skip_holidays: bool = False

    @classmethod
    def of(cls, quiet_start: str, quiet_end: str, skip_holidays: bool) -> SendRules:
        return cls(parse_hhmm(quiet_start), parse_hhmm(quiet_end), skip_holidays)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day)


def _quiet_end_after(local: datetime, rules: SendRules) -> datetime | None:
    """The end of the quiet period ``local`` (JST) is in, or None when it is not in one."""
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return None
    clock = local.timetz().replace(tzinfo=None)
    day = local.date()
    if start < end:  # e.g. 12:00–13:00 the same day
        if start <= clock < end:
            return datetime.combine(day, end, JST)
        return None
    # wraps midnight, e.g. 21:00–08:00
    if clock >= start:
        return datetime.combine(day + timedelta(days=1), end, JST)
    if clock < end:
        return datetime.combine(day, end, JST)
    return None


def adjust(moment: datetime, rules: SendRules) -> datetime:
    """``moment`` moved to the end of the quiet period it falls in, and (``skip_holidays``)
    from a Saturday, Sunday or public holiday to the next business day 09:00 JST; repeated
    until neither applies. Returned in UTC."""
    local = moment.astimezone(JST)
    for _ in range(400):
        moved = _quiet_end_after(local, rules)
        if moved is not None:
            local = moved
            continue
        if rules.skip_holidays and not is_business_day(local.date()):
            day = local.date() + timedelta(days=1)
            while not is_business_day(day):
                day += timedelta(days=1)
            local = datetime.combine(day, BUSINESS_DAY_START, JST)
            continue
        break
    return local.astimezone(UTC)


@dataclass(frozen=True)
class PhaseTime:
    phase: str
    send_at: datetime
    #: None: it will be sent; else why it is switched off (Japanese / English)
    off_reason: str | None


PASSED_REASON = (
    "作成時点で送信予定時刻を過ぎていたため送りません / its time had passed when the campaign "
    "was created"
)
AFTER_CLOSE_REASON = "締切を過ぎてしまうため送りません / it would be sent after closing"
AFTER_OPEN_REASON = (
    "受付開始より後になってしまうため送りません / the preview would be sent after opening"
)


def default_phase_times(
    opens: datetime, closes: datetime, *, rules: SendRules, now: datetime
) -> list[PhaseTime]:
    """The three phases with their adjusted times; a phase whose time has passed (or would
    come too late) is switched off with the reason."""
    preview = adjust(opens - PREVIEW_LEAD, rules)
    opening = adjust(opens, rules)
    reminder_base = closes - REMINDER_LEAD
    if reminder_base <= opens:  # a short window: half-way, never before opening
        reminder_base = opens + (closes - opens) / 2
    reminder = adjust(reminder_base, rules)
    if reminder < opening:
        reminder = opening
    times: list[PhaseTime] = []
    for phase, at, latest, late_reason in (
        (CampaignPhaseName.PREVIEW, preview, opens, AFTER_OPEN_REASON),
        (CampaignPhaseName.OPEN, opening, closes, AFTER_CLOSE_REASON),
        (CampaignPhaseName.REMINDER, reminder, closes, AFTER_CLOSE_REASON),
    ):
        reason = None
        if at >= latest:
            reason = late_reason
        elif at < now:
            reason = PASSED_REASON
        times.append(PhaseTime(phase, at, reason))
    return times


def jst_text(moment: datetime) -> str:
    """``2027-01-12 09:00 JST（火）`` for staff."""
    local = moment.astimezone(JST)
    return f"{local:%Y-%m-%d %H:%M} JST（{'月火水木金土日'[local.weekday()]}）"
