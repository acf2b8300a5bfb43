"""Time comes from here, so tests and the demo can run months in seconds."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from municipal_node.settings import NodeSettings


class Clock(Protocol):
    def now(self) -> datetime:
        """The present as an aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, rehearsals)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


class FileClock:
    """A simulated clock read from a JSON file, for the demo only (never the default).

    The file holds ``{"at": "<ISO-8601 aware>", "since": <unix time when written>}``;
    ``now() = at + (time.time() - since)``: time flows normally from the last jump, and a jump
    is made by rewriting the file (re-read when its mtime changes). It never goes backwards.
    """

    def __init__(self, path: Path, *, wallclock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._wallclock = wallclock
        self._stamp: tuple[int, int, int] | None = None
        self._at: datetime | None = None
        self._since = 0.0
        self._last: datetime | None = None
        self._load()
        if self._at is None:
            raise ValueError(f"clock file {self.path} is missing or not valid JSON {{at, since}}")
        self.now()  # the first reading is the floor from now on

    def _load(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            return
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
            at = datetime.fromisoformat(str(data["at"]))
            since = float(data["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # half-written or broken: keep the previous reading
        if at.tzinfo is None:
            return
        self._stamp = stamp
        self._at = at.astimezone(UTC)
        self._since = since

    def now(self) -> datetime:
        self._load()
        if self._at is None:  # pragma: no cover - set in __init__
            raise ValueError(f"clock file {self.path} unreadable")
        current = self._at + timedelta(seconds=self._wallclock() - self._since)
        if self._last is not None and current < self._last:
            return self._last
        self._last = current
        return current


def clock_from_settings(settings: NodeSettings) -> Clock:
    """The configured clock: a :class:`FileClock` when ``clock_file`` is set (demo), else real."""
    if settings.clock_file is None:
        return SystemClock()
    logging.getLogger(__name__).warning("simulated clock from %s", settings.clock_file)
    return FileClock(settings.clock_file)
