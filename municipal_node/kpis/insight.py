"""How many people opened a send job's messages: LINE insight per aggregation unit, read with
the real ``line-bot-sdk`` (``linebot.v3.insight.AsyncInsight.get_statistics_per_unit``).

Every job sends with ``customAggregationUnits = [job.aggregation_unit]``
(``dispatch.keys.aggregation_unit_for``), so the unit's ``overview.uniqueImpression`` is the
number of people who opened that phase's message. LINE answers ``null`` below 20 people: that
is ``Opened(None, "below_threshold")``, never a guess. A LINE error or an unreachable LINE is
``Opened(None, "unavailable")`` with the reason kept for staff (never a 500).

LINE aggregates by the day a message was sent (JST) and allows at most 30 days per query: the
period asked is the job's first day to 30 days later (or today, if earlier).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import aiohttp
from linebot.v3.insight import ApiException, AsyncApiClient, AsyncInsight, Configuration

from municipal_node.segments.ages import JST

log = logging.getLogger(__name__)

MAX_SPAN = timedelta(days=30)


class OpenedNote:
    OK = "ok"
    BELOW_THRESHOLD = "below_threshold"  # LINE says null: fewer than 20 people
    UNAVAILABLE = "unavailable"  # LINE could not be asked (error kept in ``error``)
    NOT_SENT = "not_sent"  # nothing was sent yet

    LABELS_JA = {
        OK: "",
        BELOW_THRESHOLD: "20人未満のため LINE が非公開",
        UNAVAILABLE: "LINE から取得できません",
        NOT_SENT: "未送信",
    }


@dataclass(frozen=True)
class Opened:
    value: int | None
    note: str
    error: str | None = None


class InsightSource(Protocol):
    async def opened(self, unit: str, first_day: date, today: date) -> Opened: ...


def period(first_day: date, today: date) -> tuple[str, str]:
    """``from``/``to`` (yyyyMMdd, JST) of a unit first sent on ``first_day``."""
    end = min(first_day + MAX_SPAN, max(today, first_day))
    return first_day.strftime("%Y%m%d"), end.strftime("%Y%m%d")


def jst_day(moment: datetime) -> date:
    return moment.astimezone(JST).date()


class LineInsight:
    """The insight API of one tenant's channel. Use as ``async with LineInsight(...)``."""

    def __init__(self, *, base_url: str, access_token: str, timeout_seconds: float) -> None:
        self._configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._client: AsyncApiClient | None = None

    async def __aenter__(self) -> LineInsight:
        self._client = AsyncApiClient(self._configuration)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def opened(self, unit: str, first_day: date, today: date) -> Opened:
        if self._client is None:
            raise RuntimeError("LineInsight used outside 'async with'")
        start, end = period(first_day, today)
        try:
            answer = await AsyncInsight(self._client).get_statistics_per_unit(
                unit, start, end, _request_timeout=self._timeout
            )
        except ApiException as exc:
            log.warning("LINE insight answered HTTP %s for unit %s", exc.status, unit)
            return Opened(None, OpenedNote.UNAVAILABLE, f"LINE HTTP {exc.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("LINE insight unreachable: %s", type(exc).__name__)
            return Opened(None, OpenedNote.UNAVAILABLE, type(exc).__name__)
        value = answer.overview.unique_impression
        if value is None:
            return Opened(None, OpenedNote.BELOW_THRESHOLD)
        return Opened(int(value), OpenedNote.OK)
