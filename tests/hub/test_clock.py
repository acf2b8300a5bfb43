"""FileClock: the demo's simulated clock, shared by the processes through a JSON file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hub.clock import FileClock, SystemClock, clock_from_settings
from hub.settings import HubSettings

JST = timezone(timedelta(hours=9))


class Wall:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def write(path: Path, at: datetime, since: float, *, mtime: int) -> None:
    path.write_text(json.dumps({"at": at.isoformat(), "since": since}), "utf-8")
    os.utime(path, ns=(mtime, mtime))  # a distinct mtime, whatever the filesystem's resolution


def test_time_flows_from_the_file_and_jumps_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    wall = Wall(1000.0)
    write(path, datetime(2026, 12, 1, 9, 0, tzinfo=JST), 1000.0, mtime=1)
    clock = FileClock(path, wallclock=wall)
    assert clock.now() == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo is not None
    wall.at = 1090.0
    assert clock.now() == datetime(2026, 12, 1, 0, 1, 30, tzinfo=UTC)
    write(path, datetime(2027, 1, 12, 8, 31, tzinfo=JST), 1100.0, mtime=2)
    wall.at = 1105.0
    assert clock.now() == datetime(2027, 1, 11, 23, 31, 5, tzinfo=UTC)


def test_never_goes_backwards(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    wall = Wall(0.0)
    write(path, datetime(2027, 2, 1, tzinfo=UTC), 0.0, mtime=1)
    clock = FileClock(path, wallclock=wall)
    write(path, datetime(2027, 1, 1, tzinfo=UTC), 0.0, mtime=2)
    assert clock.now() == datetime(2027, 2, 1, tzinfo=UTC)
    wall.at = 60.0
    assert clock.now() == datetime(2027, 2, 1, tzinfo=UTC)  # held at the maximum seen


def test_broken_rewrite_keeps_the_last_reading_and_missing_file_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clock.json"
    write(path, datetime(2027, 1, 1, tzinfo=UTC), 0.0, mtime=1)
    clock = FileClock(path, wallclock=Wall(0.0))
    path.write_text("{half", "utf-8")
    os.utime(path, ns=(2, 2))
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        FileClock(tmp_path / "absent.json")


def test_settings_choose_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    write(path, datetime(2027, 1, 1, tzinfo=UTC), 0.0, mtime=1)
    plain = HubSettings()
    assert isinstance(clock_from_settings(plain), SystemClock)
    simulated = clock_from_settings(HubSettings(clock_file=path))
    assert isinstance(simulated, FileClock)
    assert simulated.now() >= datetime(2027, 1, 1, tzinfo=UTC)
