"""Where the provider's notices and progress lines go: one sink, handed to whoever prints.

resolvelib's core reports through a ``BaseReporter`` and never prints; here a ``Notices`` is that
reporter. Pure modules return a ``Notice`` as data (the configuration's version notices, the test
clock's notice) and the code that holds the process (the engine adapter, the CLI entry) sends it
here. ``once`` prints a notice once per sink: the engine keeps a provider process for a whole
command and the provider reloads its configuration on every call, so "once" means once per
process for the adapter's sink and once per command for the CLI's.

The stream is looked up at every line (``sys.stderr`` by default), so that a caller that swaps
``sys.stderr`` for a call (the in-process engine imitation does) gets that call's lines. Every
line is escaped for a terminal or CI log (``escape.log``) here, once: a number's progress quotes
Meta's data, and a notice quotes the configuration.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from . import escape


@dataclass(frozen=True)
class Notice:
    """Something a person should know once, e.g. that Meta serves another API version.

    ``key`` says which notices are the same one: a notice is printed once per key."""

    key: str
    text: str


class Notices:
    """A process's (or a command's) notice sink: lines always, notices once per key."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream  # None: sys.stderr as it is at each line
        self._lock = threading.Lock()
        self._said: set[str] = set()

    def line(self, text: str) -> None:
        """One line, as it is (progress of a number: ``whatsapp ID: deregister ok``)."""
        print(escape.log(text), file=self._stream or sys.stderr, flush=True)

    def once(self, notice: Notice | None) -> None:
        """``whatsapp: notice: ...``, the first time this sink sees the notice's key."""
        if notice is None or not self.first_time(notice.key):
            return
        self.line(f"whatsapp: notice: {notice.text}")

    def all_once(self, notices: tuple[Notice, ...] | list[Notice]) -> None:
        for notice in notices:
            self.once(notice)

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is asked of this sink."""
        with self._lock:
            first = key not in self._said
            self._said.add(key)
            return first
