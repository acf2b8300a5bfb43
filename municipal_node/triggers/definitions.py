"""The date triggers a tenant can switch on, and when each fires for a child (pure).

- ``checkup_4m`` / ``checkup_18m`` / ``checkup_3y`` (乳幼児健診 at 4 months, 1 year 6 months,
  3 years): the event day is the day the child reaches that age in whole months
  (``segments.ages.age_in_months``, the civil-code reading), the notice goes one month ahead
  (the day the child reaches one month less).
- ``school_entry`` (入学準備金): the child enters elementary school on April 1 of
  ``es1_entry_year`` (the April 1 rule of ``segments.ages``); the notice goes on December 1
  before, while the child is ``es1_entrant`` (年長), when municipalities announce 入学準備金.

A child is **due** on day ``today`` when ``notify_day <= today < event_day``: a node that was
down, or a trigger switched on later, still reaches children whose event is ahead, never one
whose event has passed. Each child gets each trigger once (``trigger_fires`` unique key), and
a LINE user at most once per trigger within ``window_days`` (one message covers twins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from municipal_node.segments.ages import es1_entry_year


def reaches_months(born: date, months: int) -> date:
    """The first day on which a child born on ``born`` is ``months`` whole months old."""
    total = born.month - 1 + months
    year, month = born.year + total // 12, total % 12 + 1
    try:
        return date(year, month, born.day)
    except ValueError:  # the month has no such day: the 1st of the next month
        return date(year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class TriggerDefinition:
    code: str
    label: str
    #: the 受信設定 topic a friend must have chosen (``line.topics``)
    topic: str
    default_headline: str
    default_body: str
    event_day: Callable[[date], date]
    notify_day: Callable[[date], date]
    #: longer than any child's due period: a LINE user reached by this trigger within it is
    #: not reached again (twins born either side of midnight; keys after a key rotation)
    window_days: int

    def due(self, born: date, today: date) -> bool:
        return born <= today and self.notify_day(born) <= today < self.event_day(born)


def _checkup(code: str, months: int, label: str, age: str) -> TriggerDefinition:
    return TriggerDefinition(
        code=code,
        label=label,
        topic="checkups",
        default_headline=f"{age}児健診のご案内",
        default_body=(
            f"お子さんが{age}になる頃に{age}児健診があります。日程と持ち物は市町村のページで"
            "ご確認ください。"
        ),
        event_day=lambda born: reaches_months(born, months),
        notify_day=lambda born: reaches_months(born, months - 1),
        window_days=35,
    )


def _school_entry_event(born: date) -> date:
    return date(es1_entry_year(born), 4, 1)


def _school_entry_notify(born: date) -> date:
    return date(es1_entry_year(born) - 1, 12, 1)


DEFINITIONS: dict[str, TriggerDefinition] = {
    definition.code: definition
    for definition in (
        _checkup("checkup_4m", 4, "乳幼児健診（4か月児）", "4か月"),
        _checkup("checkup_18m", 18, "乳幼児健診（1歳6か月児）", "1歳6か月"),
        _checkup("checkup_3y", 36, "乳幼児健診（3歳児）", "3歳"),
        TriggerDefinition(
            code="school_entry",
            label="小学校入学（入学準備金）",
            topic="school",
            default_headline="小学校入学準備金（新入学学用品費）のご案内",
            default_body=(
                "来年4月に小学校へ入学するお子さんのいるご家庭へ。入学準備金（就学援助の"
                "新入学学用品費）の申請をご案内します。対象や申請方法は市町村のページでご確認"
                "ください。"
            ),
            event_day=_school_entry_event,
            notify_day=_school_entry_notify,
            window_days=130,
        ),
    )
}


def fire_key(trigger: str, day: date) -> str:
    """One per trigger and day (≤ 26 characters: also the job's ``notice_id``)."""
    return f"{trigger}-{day:%Y%m%d}"
