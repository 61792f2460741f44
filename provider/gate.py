"""May a cutover start now? One answer for change windows and blackouts together.

Preflight, the check at the moment a cutover really starts, ``plan``/``drift``/``report`` and
``plan --ready-targets`` all ask this one function, so they cannot disagree. Exactly one of:

- ``OPEN``: a cutover may start now, until the end of the open period (adjacent and overlapping
  windows joined), or earlier when a blackout begins first; without windows, until the next
  blackout (or with no end in sight);
- ``WAITING``: not now, but later. Outside the windows: when the next one opens. Inside a
  blackout: which one (its reason), when it ends, and the first instant at or after its end that a
  cutover may start (in a window, and not in another blackout);
- ``NEVER``: the windows are an empty list. That is a decision, not a wait: no blackout ending or
  clock moving changes it, so nothing may call it "waiting" (``plan --wait-for-window`` included).

A blackout beats a window. Each answer renders one sentence (UTC and local time) for errors and
the CLI; ``facts`` is the same answer for JSON. Plans that never take a number offline never ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from .blackouts import Blackout, Blackouts
from .windows import Opening, Windows, next_period, period_at
from .zones import format_local, format_utc

__all__ = ["Answer", "Moment", "Gate", "gate"]



class Answer(str, Enum):
    OPEN = "open"
    WAITING = "waiting"
    NEVER = "never"


@dataclass(frozen=True)
class Moment:
    """An instant with the zone a person reads it in."""

    at: datetime
    tz: ZoneInfo | None

    @property
    def utc(self) -> str:
        return format_utc(self.at)

    @property
    def local(self) -> str | None:
        return None if self.tz is None else format_local(self.at, self.tz)

    def __str__(self) -> str:
        return self.utc if self.local is None else f"{self.utc} ({self.local})"


@dataclass(frozen=True)
class Gate:
    """The answer at ``now``. ``period``: the open period now is in (OPEN, with windows).
    ``until``: when OPEN stops (None: no end ahead). ``blackout``: the one now is in (WAITING), or
    the one that cuts the open period short (OPEN). ``opens``: the first instant a cutover may
    start (WAITING), and ``delayed_by`` the blackout that pushed it past a window's opening."""

    answer: Answer
    now: datetime
    period: Opening | None = None
    until: Moment | None = None
    blackout: Blackout | None = None
    opens: Moment | None = None
    delayed_by: Blackout | None = None

    @property
    def may_start(self) -> bool:
        return self.answer is Answer.OPEN

    def sentence(self) -> str:
        now = format_utc(self.now)
        if self.answer is Answer.NEVER:
            return ("no cutover may start, at any time: its change windows are an empty list, which means never; "
                    "add a window when cutovers may run again")
        if self.answer is Answer.WAITING:
            after = f", once {self.delayed_by} has ended" if self.delayed_by is not None else ""
            if self.blackout is not None:
                ends = Moment(self.blackout.ends, self.blackout.tz)
                return (f"no cutover may start now ({now}): {self.blackout} lasts until {ends}; the next opening at "
                        f"or after its end is {self.opens}{after}")
            return f"no cutover may start now ({now}): outside its change windows; the next opening is {self.opens}{after}"
        if self.period is None:
            ahead = "so at any time" if self.blackout is None else f"until {self.blackout} begins at {self.until}"
            return f"a cutover may start now ({now}): no change windows, {ahead}"
        cut = f", when {self.blackout} begins" if self.blackout is not None else ""
        return f"a cutover may start now ({now}): in a window ({self.period.window}) until {self.until}{cut}"

    def short(self) -> str:
        """The answer in a few words, for a table cell (the sentence says it in full)."""
        if self.answer is Answer.NEVER:
            return "never (cutoverWindows is an empty list)"
        if self.answer is Answer.WAITING:
            held = f"{self.blackout} until {self.blackout.ends:%Y-%m-%d %H:%M} UTC; " if self.blackout else ""
            return f"waiting: {held}next opening {self.opens}"
        if self.period is None:
            return "any time" if self.until is None else f"any time until {self.until} ({self.blackout})"
        return f"in a window until {self.until}"

    def facts(self) -> dict[str, Any]:
        """The answer as JSON values (instants in UTC, with their local reading)."""
        def moment(value: Moment | None) -> dict[str, str | None] | None:
            return None if value is None else {"utc": value.utc, "local": value.local}

        def blackout(value: Blackout | None) -> dict[str, str] | None:
            return None if value is None else {**value.canonical(), "starts": format_utc(value.starts),
                                               "ends": format_utc(value.ends)}

        return {"answer": self.answer.value, "at": format_utc(self.now), "until": moment(self.until),
                "opens": moment(self.opens), "blackout": blackout(self.blackout),
                "delayed_by": blackout(self.delayed_by), "sentence": self.sentence()}


def gate(windows: Windows | None, blackouts: Iterable[Blackout] | None, now: datetime) -> Gate:
    """May a cutover start at ``now``? ``windows``: None for any time, ``()`` for never.
    ``blackouts``: every blackout that applies (the stack's and the number's, ``blackouts.effective``)."""
    now = now.astimezone(timezone.utc)
    if windows is not None and not windows:
        return Gate(Answer.NEVER, now)
    blackouts = tuple(blackouts or ())
    holding = _holding(blackouts, now)
    if holding is not None:
        opens, delayed_by = _first_open(windows, blackouts, holding.ends, holding)
        return Gate(Answer.WAITING, now, blackout=holding, opens=opens,
                    delayed_by=delayed_by if delayed_by is not holding else None)
    upcoming = min((b for b in blackouts if b.starts > now), key=lambda b: b.starts, default=None)
    if windows is None:
        until = None if upcoming is None else Moment(upcoming.starts, upcoming.tz)
        return Gate(Answer.OPEN, now, until=until, blackout=upcoming)
    period = period_at(windows, now)
    if period is None:
        opens, delayed_by = _first_open(windows, blackouts, now, None)
        return Gate(Answer.WAITING, now, opens=opens, delayed_by=delayed_by)
    if upcoming is not None and upcoming.starts < period.closes:
        return Gate(Answer.OPEN, now, period=period, until=Moment(upcoming.starts, upcoming.tz), blackout=upcoming)
    return Gate(Answer.OPEN, now, period=period, until=Moment(period.closes, period.window.tz))


def _holding(blackouts: Blackouts, moment: datetime) -> Blackout | None:
    """The blackout that holds ``moment`` longest (the first listed on a tie), or None."""
    inside = [b for b in blackouts if b.contains(moment)]
    return max(inside, key=lambda b: b.ends) if inside else None


def _first_open(windows: Windows | None, blackouts: Blackouts, moment: datetime,
                stepped: Blackout | None) -> tuple[Moment, Blackout | None]:
    """The first instant at or after ``moment`` inside a window (any, without windows) and outside
    every blackout, with the last blackout stepped over to reach it. Each step passes a blackout
    or reaches a window's opening, so ``2 * len(blackouts) + 2`` steps always suffice."""
    for _ in range(2 * len(blackouts) + 2):
        holding = _holding(blackouts, moment)
        if holding is not None:
            moment, stepped = holding.ends, holding
            continue
        if windows is None:
            return Moment(moment, None if stepped is None else stepped.tz), stepped
        period = period_at(windows, moment)
        if period is not None:
            return Moment(moment, period.window.tz), stepped
        upcoming = next_period(windows, moment)
        assert upcoming is not None, "windows is not empty, so a period opens every week"
        moment = upcoming.opens
    raise AssertionError("unreachable: every step passes a blackout or reaches an open window")
