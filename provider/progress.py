"""Progress of a long read on stderr, so stdout stays clean for the report (plan, drift, report, import).

On a terminal it is one live counter rewritten in place (``\\r``); in a CI log, where ``\\r``
piles up into one unreadable line, it is a line every few seconds. A handful of numbers reads
in about a second, so below ``HANDFUL`` nothing is shown at all.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TextIO

HANDFUL = 5
INTERVAL_SECONDS = 5.0


class Progress:
    """Counts numbers read; thread-safe, since reads run in a pool."""

    def __init__(self, stream: TextIO, total: int, *, label: str = "reading numbers",
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self.total = total
        self.label = label
        self.shown = total > HANDFUL
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._interval = INTERVAL_SECONDS if interval is None else interval
        self._clock = clock
        self._lock = threading.Lock()
        self.done = 0
        self._started = clock()
        self._last_line = self._started

    def start(self) -> None:
        if not self.shown:
            return
        self._started = self._last_line = self._clock()
        if self._tty:
            self._write(f"\r{self.label}: 0/{self.total}")
        else:
            self._write(f"{self.label}: {self.total} numbers from the Graph API\n")

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            if not self.shown:
                return
            if self._tty:
                self._write(f"\r{self.label}: {self.done}/{self.total}")
                return
            now = self._clock()
            if now - self._last_line >= self._interval and self.done < self.total:
                self._last_line = now
                self._write(f"{self.label}: {self.done} of {self.total} read\n")

    def finish(self) -> None:
        if not self.shown:
            return
        seconds = self._clock() - self._started
        end = f"{self.label}: {self.done} of {self.total} read in {seconds:.1f} s"
        self._write(f"\r{end}\n" if self._tty else end + "\n")

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
