"""Recurrence dates of a recurring notice: RFC 5545 RRULE + business-day adjustment (pure).

A rule names event days (e.g. 児童扶養手当's payment day, the 11th of odd months:
``FREQ=MONTHLY;BYMONTH=1,3,5,7,9,11;BYMONTHDAY=11``). For each occurrence:

1. the **event day** is moved to a business day when it is not one (``adjust``: ``previous``
   — the usual rule for payments —, ``next``, or ``none``);
2. the notice goes out ``lead_days`` calendar days before the adjusted event day, at
   ``send_time`` (JST, outside quiet hours 21:00–08:00).

A business day is a bank business day: not Saturday or Sunday, not a national holiday
(``jpholiday``, 振替休日 included), not December 31 – January 3 (banks are closed; payments
fall before). Occurrences are named by their RRULE date (stable when the rule's lead time or
send time change), e.g. task key ``recurring:3:2027-01-11``.

Searches are bounded (``HORIZON_YEARS``): a rule that never matches (``BYMONTHDAY=30`` in
February) answers "no occurrence" instead of iterating to year 9999.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from municipal_node.campaigns.timing import is_business_day as is_weekday_not_holiday
from municipal_node.segments.ages import JST

Adjust = Literal["previous", "next", "none"]
ADJUSTS: tuple[Adjust, ...] = ("previous", "next", "none")

HORIZON_YEARS = 5
MAX_LEAD_DAYS = 60
QUIET_START = time(21, 0)
QUIET_END = time(8, 0)
_ALLOWED_FREQ = {YEARLY, MONTHLY, WEEKLY, DAILY}
_FORBIDDEN_PARTS = ("DTSTART", "COUNT", "BYHOUR", "BYMINUTE", "BYSECOND", "EXDATE", "RDATE")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class RecurrenceError(ValueError):
    """A rule that cannot be used; the message says why (Japanese first)."""


def is_business_day(day: date) -> bool:
    """A campaign's business day (``campaigns.timing``) that is not in the banks' year-end
    closure (payments fall on bank business days)."""
    if not is_weekday_not_holiday(day):
        return False
    return not ((day.month == 12 and day.day == 31) or (day.month == 1 and day.day <= 3))


def adjust_day(day: date, adjust: Adjust) -> date:
    """``day`` moved to the previous / next business day when it is not one."""
    if adjust == "none":
        return day
    step = timedelta(days=-1 if adjust == "previous" else 1)
    while not is_business_day(day):
        day += step
    return day


def parse_send_time(value: str) -> time:
    match = _TIME_RE.match(value.strip())
    if match is None:
        raise RecurrenceError(
            f"送信時刻は HH:MM（24時間制）で指定してください（{value!r}） / send_time must be HH:MM"
        )
    at = time(int(match.group(1)), int(match.group(2)))
    if at >= QUIET_START or at < QUIET_END:
        raise RecurrenceError(
            f"送信時刻 {value} は夜間（21:00〜8:00）です。8:00〜20:59 にしてください"
            f" / send_time {value} is inside quiet hours (21:00-08:00 JST)"
        )
    return at


def normalize_rrule(text: str) -> str:
    """The rule as stored: one ``RRULE`` value without the ``RRULE:`` prefix, upper case."""
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    value = value.strip().upper()
    if not value or "\n" in value or "\r" in value:
        raise RecurrenceError(
            "繰り返し規則は RRULE の1行で指定してください（例: FREQ=MONTHLY;BYMONTHDAY=11）"
            " / give one RRULE line, e.g. FREQ=MONTHLY;BYMONTHDAY=11"
        )
    names = {part.split("=", 1)[0].strip() for part in value.split(";") if part.strip()}
    for forbidden in _FORBIDDEN_PARTS:
        if forbidden in names:
            raise RecurrenceError(
                f"繰り返し規則に {forbidden} は使えません（開始日は starts_on、終わりは UNTIL で"
                f"指定します） / {forbidden} is not supported (use starts_on and UNTIL)"
            )
    return value


def build_rule(text: str, starts_on: date) -> rrule:
    """The dateutil rule of ``text`` starting on ``starts_on`` (naive dates: days in Japan)."""
    value = normalize_rrule(text)
    try:
        parsed = rrulestr(value, dtstart=datetime.combine(starts_on, time()))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RecurrenceError(
            f"繰り返し規則を読めません: {exc} / not a valid RFC 5545 RRULE: {exc}"
        ) from exc
    if not isinstance(parsed, rrule):
        raise RecurrenceError("繰り返し規則は1つだけです / give exactly one RRULE")
    if parsed._freq not in _ALLOWED_FREQ:
        raise RecurrenceError(
            "FREQ は YEARLY / MONTHLY / WEEKLY / DAILY のどれかです（日付の規則です） / FREQ "
            "must be YEARLY, MONTHLY, WEEKLY or DAILY"
        )
    return parsed


def _bounded(rule: rrule, until: date) -> rrule:
    bound = datetime.combine(until, time())
    current = rule._until
    if current is not None and current.replace(tzinfo=None) <= bound:
        return rule
    return rule.replace(until=bound)


def occurrence_dates(rule: rrule, *, after: date, until: date) -> Iterator[date]:
    """RRULE dates ``>= after`` and ``<= until`` in order (each date once)."""
    start = datetime.combine(after, time()) - timedelta(seconds=1)
    last: date | None = None
    for moment in _bounded(rule, until).xafter(start):
        day = moment.date()
        if day != last:
            last = day
            yield day


@dataclass(frozen=True)
class Occurrence:
    #: the RRULE date (names the occurrence)
    on: date
    #: the event day after the business-day adjustment
    event_day: date
    #: when the notice is sent (aware, UTC)
    send_at: datetime

    @property
    def notify_day(self) -> date:
        return self.send_at.astimezone(JST).date()


@dataclass(frozen=True)
class Recurrence:
    rrule_text: str
    starts_on: date
    lead_days: int
    send_time: time
    adjust: Adjust

    def rule(self) -> rrule:
        return build_rule(self.rrule_text, self.starts_on)

    def occurrence(self, on: date) -> Occurrence:
        event_day = adjust_day(on, self.adjust)
        notify = event_day - timedelta(days=self.lead_days)
        send_at = datetime.combine(notify, self.send_time, tzinfo=JST)
        return Occurrence(on, event_day, send_at.astimezone(UTC))

    def upcoming(
        self, *, now: datetime, after_on: date | None = None, limit: int = 1
    ) -> list[Occurrence]:
        """The next ``limit`` occurrences sent after ``now`` (and, when given, whose RRULE date
        is after ``after_on``), within ``HORIZON_YEARS``."""
        today = now.astimezone(JST).date()
        # an adjustment moves an event at most ~10 days earlier (year end, Golden Week)
        start = max(self.starts_on, today - timedelta(days=self.lead_days + 15))
        if after_on is not None:
            start = max(start, after_on + timedelta(days=1))
        until = max(start, today) + timedelta(days=366 * HORIZON_YEARS)
        found: list[Occurrence] = []
        for on in occurrence_dates(self.rule(), after=start, until=until):
            occurrence = self.occurrence(on)
            if occurrence.send_at <= now:
                continue
            found.append(occurrence)
            if len(found) >= limit:
                break
        return found

    def validate(self, *, now: datetime) -> None:
        """``RecurrenceError`` when the rule is unusable (bad RRULE, bad lead time, or no
        occurrence in the next ``HORIZON_YEARS`` years)."""
        if not 0 <= self.lead_days <= MAX_LEAD_DAYS:
            raise RecurrenceError(
                f"何日前に通知するか（lead_days）は 0〜{MAX_LEAD_DAYS} です / lead_days must "
                f"be 0-{MAX_LEAD_DAYS}"
            )
        if self.adjust not in ADJUSTS:
            raise RecurrenceError(
                "adjust は previous / next / none のどれかです / adjust must be previous, next "
                "or none"
            )
        self.rule()
        if not self.upcoming(now=now):
            raise RecurrenceError(
                f"この規則では今後{HORIZON_YEARS}年間に通知する日がありません / the rule has no "
                f"occurrence in the next {HORIZON_YEARS} years"
            )


def japanese_day(day: date) -> str:
    """``2027年1月8日（金）``"""
    return f"{day.year}年{day.month}月{day.day}日（{'月火水木金土日'[day.weekday()]}）"
