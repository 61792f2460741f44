"""A number's register/deregister calls as one value, against Meta's 72-hour budget. Pure.

Meta allows 10 register/deregister calls per number in a moving 72-hour window; the 11th earns
133016 and blocks the number for 72 hours. Every caller that counts those calls (preflight, the
runner's retries, what a resource stores, the CLI's budget column) counts them here.

This is the only module that parses or formats the calls' timestamps: state and outputs keep
ISO-8601 UTC strings (the output ``registration_calls``, e.g. ``2026-11-21T16:20:33Z``), read once at
the boundary (``CallLedger.from_state``, tolerant: a value that is not such a string is ignored
rather than trusted) and written once (``serialise``).

Two ways of putting calls together, because they mean different things:

- ``|`` merges what several entries *carry* (an old resource and its successor, a pending delete,
  a create's retry): the same calls appear in more than one entry, so each instant counts as many
  times as it appears in the one entry that has it most often (a multiset union). Timestamps have
  one-second resolution, so a deregister and a register can share one: they stay two calls;
- ``+`` adds calls that were *made* (a run's own calls, a failed attempt's): they are new calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

REGISTER_BUDGET = 10
BUDGET_WINDOW = timedelta(hours=72)
ISO = "%Y-%m-%dT%H:%M:%SZ"


def format_instant(moment: datetime) -> str:
    """``2026-11-21T16:20:33Z``: how state, outputs and messages write an instant (UTC, to the second)."""
    return moment.astimezone(timezone.utc).strftime(ISO)


def parse_times(values: object) -> list[datetime]:
    """The instants of a ``registration_calls`` value from state, sorted; anything unreadable is ignored."""
    if not isinstance(values, (list, tuple)):
        return []
    out: list[datetime] = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            out.append(datetime.strptime(value, ISO).replace(tzinfo=timezone.utc))
        except ValueError:
            continue
    return sorted(out)


def _second(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class CallLedger:
    """Register/deregister calls of one number (a multiset of instants, sorted)."""

    calls: tuple[datetime, ...] = ()

    @classmethod
    def of(cls, instants: Iterable[datetime]) -> "CallLedger":
        return cls(tuple(sorted(_second(moment) for moment in instants)))

    @classmethod
    def from_state(cls, values: object) -> "CallLedger":
        """From a ``registration_calls`` output (a list of ISO strings); unreadable values are ignored."""
        return cls(tuple(parse_times(values)))

    def __len__(self) -> int:
        return len(self.calls)

    def __or__(self, other: "CallLedger") -> "CallLedger":
        """What two entries carry, merged: the same calls carried twice count once."""
        return CallLedger(tuple(sorted((Counter(self.calls) | Counter(other.calls)).elements())))

    def __add__(self, other: "CallLedger") -> "CallLedger":
        """Calls made on top of these: every one counts."""
        return CallLedger(tuple(sorted(self.calls + other.calls)))

    def add(self, moment: datetime) -> "CallLedger":
        """One more call, made at ``moment``."""
        return self + CallLedger((_second(moment),))

    def recent(self, now: datetime) -> "CallLedger":
        """The calls still inside Meta's moving 72-hour window at ``now``."""
        return CallLedger(tuple(t for t in self.calls if now - t < BUDGET_WINDOW))

    def used(self, now: datetime) -> int:
        return len(self.recent(now))

    def left(self, now: datetime) -> int:
        """Calls that may still be made at ``now`` without passing Meta's limit."""
        return max(0, REGISTER_BUDGET - self.used(now))

    def allows(self, more: int, now: datetime) -> bool:
        return more <= self.left(now)

    def frees_at(self, more: int, now: datetime) -> datetime | None:
        """None when ``more`` calls fit now; else the instant they will (the oldest calls leave the window)."""
        recent = self.recent(now).calls
        excess = len(recent) + more - REGISTER_BUDGET
        if more == 0 or excess <= 0:
            return None
        if excess > len(recent):
            return now + BUDGET_WINDOW
        return recent[excess - 1] + BUDGET_WINDOW

    def serialise(self) -> list[str]:
        """The ``registration_calls`` output: ISO-8601 UTC strings, oldest first."""
        return [format_instant(moment) for moment in self.calls]
