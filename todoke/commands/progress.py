"""A small progress bar on stderr for long CLI steps: rows done / total and the rate.

On a terminal it redraws one line in place (at most ten times a second); otherwise (a log, a
pipe) it prints a line every ``quiet_interval`` seconds and when a phase ends, so logs stay short.
Callable as ``bar(phase, done, total)``, safe to call from worker threads.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    def __init__(
        self,
        labels: dict[str, str],
        *,
        stream: TextIO | None = None,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
        quiet_interval: float = 5.0,
    ) -> None:
        self._labels = labels
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._width = width
        self._clock = clock
        self._quiet_interval = quiet_interval
        self._lock = threading.Lock()
        self._phase: str | None = None
        self._started = 0.0
        self._drawn = 0.0
        self._done = 0
        self._total = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            now = self._clock()
            if phase != self._phase:
                self._end_phase()
                self._phase, self._started, self._drawn = phase, now, 0.0
            self._done, self._total = done, total
            interval = 0.1 if self._tty else self._quiet_interval
            if now - self._drawn >= interval and (self._tty or done < total):
                self._draw(now, final=False)
                self._drawn = now

    def close(self) -> None:
        """End the current phase's line (call once the work is over)."""
        with self._lock:
            self._end_phase()
            self._phase = None

    def _end_phase(self) -> None:
        if self._phase is not None:
            self._draw(self._clock(), final=True)

    def _draw(self, now: float, *, final: bool) -> None:
        total = max(self._total, self._done, 1)
        filled = round(self._width * self._done / total)
        seconds = now - self._started
        rate = f"{self._done / seconds:,.0f}" if seconds >= 0.2 else "-"
        label = self._labels.get(self._phase or "", self._phase or "")
        text = (
            f"{label} [{'#' * filled}{'.' * (self._width - filled)}] "
            f"{self._done:,}/{max(self._total, self._done):,} 行 rows  {rate} 行/秒 rows/s"
        )
        if final:
            text += f"  {seconds:.1f} s"
        if self._tty:
            self._stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
