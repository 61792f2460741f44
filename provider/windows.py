"""Change windows: the weekly periods in which a cutover (a plan that deregisters, taking the number
offline) may start.

Pure: no I/O and no clock of its own (callers pass ``now``). One parser serves the stack program,
the provider (a resource's ``cutover_windows`` input and the stack config
``whatsapp-local-storage:cutoverWindows``, which the engine hands over as JSON text) and the CLI.
Whether a cutover may start now, windows and blackouts together, is ``gate.gate``; ``state`` is the
windows' half of it.

A window is weekly, written ``"Sun 03:00-05:00 Europe/Berlin"``: the day it opens, the local opening
and closing times, and an IANA region's time zone (``zones``: the pinned ``tzdata`` database,
region names only). A closing time at or before the opening time means the window crosses midnight
(``"Wed 23:00-01:00 Asia/Kolkata"`` closes on Thursday); ``24:00`` closes at the next midnight.

Daylight saving time, as docs/contract.md, "Change windows and blackouts" has it:

- an opening time that a clock change skips (Europe/Berlin: Sunday 02:00-03:00 on the last Sunday
  of March) is a configuration error. It is checked for every occurrence in the coming
  ``DST_HORIZON_YEARS`` years, because a weekly window that does not exist one week a year is
  not a rule a change advisory board signed;
- an opening time in a repeated hour (Berlin's last Sunday of October, 02:00-03:00 twice) means
  its first occurrence;
- a window closes at the first instant after it opened at which the local clock reads the
  closing time or later (a closing time that is repeated closes at its first occurrence; one that
  is skipped closes at the clock change).

Each occurrence is a half-open interval of instants ``[opens, closes)``. Occurrences that touch or
overlap, of one window or several, in one zone or several, are one open period: ``Sat 22:00-24:00
UTC`` and ``Sun 00:00-02:00 UTC`` at Saturday 23:00 are open until Sunday 02:00 (a window longer
than a day is written that way). A cutover may start inside an open period, and one that started
inside it finishes after it ends (docs/contract.md: "none starts after the window's end").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from . import zones
from .errors import WindowError as WindowError  # defined in the error tree; importable from here too
from .zones import format_local, format_utc, exists, resolve

STACK_KEY = "whatsapp-local-storage:cutoverWindows"
SETTING = "cutoverWindows"
EXAMPLE = '["Sun 03:00-05:00 Europe/Berlin"]'
MAX_ITEMS = 64  # per list: a change board's calendar, not a generated schedule (also blackouts.py)
DST_HORIZON_YEARS = 10
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MINUTES_PER_DAY = 24 * 60
_MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY
_FORM = re.compile(r"(?P<day>[A-Za-z]+) +(?P<opens>[0-9]{2}:[0-9]{2}) *- *(?P<closes>[0-9]{2}:[0-9]{2}) +"
                   r"(?P<zone>[A-Za-z0-9_+\-/]+)", re.ASCII)
# How far an open period is followed. Windows that cover the whole week are refused, but windows
# in two zones can cover it for the months the zones' clock changes line up; "until" then says
# a year from now, which is as far as anyone plans a cutover.
LONGEST_PERIOD = timedelta(days=366)

__all__ = ["Window", "Windows", "Opening", "WindowState", "WindowError", "parse_window", "parse_windows",
           "canonical", "effective", "state", "period_at", "next_period", "format_utc", "format_local", "exists", "resolve"]


@dataclass(frozen=True)
class Window:
    """One weekly window: opens on ``weekday`` (0 Monday) at ``opens`` minutes after local
    midnight, closes ``closes`` minutes after local midnight (the next day when not later than
    ``opens``; 1440 is the next midnight), in ``zone``."""

    weekday: int
    opens: int
    closes: int
    zone: str

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {_hhmm(self.opens)}-{_hhmm(self.closes)} {self.zone}"

    @property
    def tz(self) -> ZoneInfo:
        return zones.zone(self.zone)

    @property
    def minutes(self) -> int:
        """Its length in wall-clock minutes."""
        return self.closes - self.opens if self.closes > self.opens else self.closes + _MINUTES_PER_DAY - self.opens

    def occurrence(self, day: date) -> "Opening":
        """This window's occurrence that opens on the local date ``day`` (of its weekday)."""
        return _occurrence(self, day)

    def occurrences_around(self, moment: datetime, *, before: int, after: int) -> list["Opening"]:
        """Occurrences opening on the local dates from ``before`` days before ``moment`` to ``after`` after."""
        local = moment.astimezone(self.tz).date()
        days = (local + timedelta(days=offset) for offset in range(-before, after + 1))
        return [self.occurrence(day) for day in days if day.weekday() == self.weekday]


@lru_cache(maxsize=4096)
def _occurrence(window: Window, day: date) -> "Opening":
    """Cached: the gate walks the same weeks once per blackout it steps over."""
    tz = window.tz
    opens = resolve(datetime.combine(day, _time(window.opens)), tz)
    closing_day = day + timedelta(days=0 if window.closes > window.opens else 1)
    closes = resolve(datetime.combine(closing_day, time(0)) + timedelta(minutes=window.closes), tz)
    return Opening(window, opens, max(opens, closes))


Windows = tuple[Window, ...]


@dataclass(frozen=True)
class Opening:
    """An open period: the instants (UTC) it opens and closes. One occurrence of ``window``, or
    several joined (then ``window`` is the one that opened it, or the one open at the instant asked)."""

    window: Window
    opens: datetime
    closes: datetime

    def contains(self, moment: datetime) -> bool:
        return self.opens <= moment < self.closes

    @property
    def opens_utc(self) -> str:
        return format_utc(self.opens)

    @property
    def closes_utc(self) -> str:
        return format_utc(self.closes)

    @property
    def opens_local(self) -> str:
        return format_local(self.opens, self.window.tz)

    @property
    def closes_local(self) -> str:
        return format_local(self.closes, self.window.tz)


@dataclass(frozen=True)
class WindowState:
    """Where ``now`` stands: inside an open period (``current``, until the end of the merged
    period), and the next opening after it (None only when there are no windows at all)."""

    current: Opening | None
    next: Opening | None

    @property
    def inside(self) -> bool:
        return self.current is not None

    def describe(self) -> str:
        if self.current is not None:
            return (f"in a window ({self.current.window}) until {self.current.closes_utc} "
                    f"({self.current.closes_local})")
        if self.next is None:
            return "no window: the list is empty, so no cutover starts"
        return f"outside its windows; next opening {self.next.opens_utc} ({self.next.opens_local})"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _time(minutes: int) -> time:
    return time(minutes // 60 % 24, minutes % 60)


def _day(text: str) -> int:
    lowered = text.lower()
    for index, (short, full) in enumerate(zip(DAYS, _FULL_DAYS)):
        if lowered in (short.lower(), full):
            return index
    raise WindowError(f"{zones.shown(text)} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def _minutes(text: str, *, closing: bool) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if closing and hours == 24 and minutes == 0:
        return _MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise WindowError(f"{text} is not a time of day (00:00 to 23:59{', or 24:00 to close at midnight' if closing else ''})")
    return hours * 60 + minutes


def parse_window(text: Any, *, today: date) -> Window:
    """One window from its text, e.g. ``"Sun 03:00-05:00 Europe/Berlin"``.

    ``today`` starts the search for occurrences whose opening time a clock change skips.
    """
    if not isinstance(text, str):
        raise WindowError(f"must be text such as \"Sun 03:00-05:00 Europe/Berlin\", got {type(text).__name__}")
    return _parse(text, today)


@lru_cache(maxsize=512)
def _parse(text: str, today: date) -> Window:
    """Cached: check, diff and update each read a number's windows, and the DST scan is ~500 dates."""
    match = _FORM.fullmatch(text.strip())
    if match is None:
        raise WindowError(f"{zones.shown(text)} is not a window: write \"<day> <HH:MM>-<HH:MM> <IANA time zone>\", "
                          "e.g. \"Sun 03:00-05:00 Europe/Berlin\" (a closing time before the opening time "
                          "crosses midnight)")
    weekday = _day(match["day"])
    opens = _minutes(match["opens"], closing=False)
    closes = _minutes(match["closes"], closing=True)
    if closes == opens:
        raise WindowError(f"{zones.shown(text)} opens and closes at the same time; to allow cutovers at any time, "
                          f"remove {SETTING}")
    window = Window(weekday, opens, closes, zones.checked(match["zone"]))
    _check_opening_exists(window, today)
    return window


def _check_opening_exists(window: Window, today: date) -> None:
    tz = window.tz
    first = today + timedelta(days=(window.weekday - today.weekday()) % 7)
    for week in range(DST_HORIZON_YEARS * 53):
        day = first + timedelta(weeks=week)
        naive = datetime.combine(day, _time(window.opens))
        if not exists(naive, tz):
            change = resolve(naive, tz)
            before = (change - timedelta(seconds=1)).astimezone(tz) + timedelta(seconds=1)
            raise WindowError(
                f"{window} opens at a time the clocks skip: {zones.skipped(naive, tz)}, so the window would not "
                f"open that week. Open it at {change.astimezone(tz):%H:%M} or later, or before {before:%H:%M}")


def read_list(value: Any, *, setting: str, example: str, kind: str, text_is_item: bool) -> list[Any]:
    """A setting's list: a list, or the JSON text of one (how the engine hands structured stack
    config to a dynamic provider); with ``text_is_item`` other text is a list of one. At most
    ``MAX_ITEMS``. Shared with blackouts.py, so that both settings read lists alike."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            if not text_is_item:
                raise WindowError(f"{setting} must be a list of {kind} such as {example}; the text given is "
                                  "not JSON") from None
    if isinstance(value, str) and text_is_item:
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise WindowError(f"{setting} must be a list of {kind} such as {example}, not {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise WindowError(f"{setting} lists {len(value)} {kind}; at most {MAX_ITEMS}")
    return list(value)


def parse_windows(value: Any, *, setting: str = SETTING, today: date) -> Windows | None:
    """Every window of a setting, or None when it is absent (cutovers at any time).

    An empty list is no window at all: no cutover starts, which is what it says. Windows that
    together cover the whole week restrict nothing and would never end an open period: refused,
    naming the way to say "any time". Every problem is reported at once, each naming its item.
    """
    if value is None:
        return None
    windows: list[Window] = []
    problems: list[str] = []
    for index, item in enumerate(read_list(value, setting=setting, example=EXAMPLE, kind="windows", text_is_item=True)):
        try:
            windows.append(parse_window(item, today=today))
        except WindowError as exc:
            problems.append(f"{setting}[{index}]: {exc}")
    if problems:
        raise WindowError("; ".join(problems))
    if _whole_week(windows):
        raise WindowError(f"{setting}: together these windows cover the whole week, so they would never close; "
                          f"to allow cutovers at any time, remove {setting}")
    return tuple(windows)


def _whole_week(windows: Iterable[Window]) -> bool:
    """Whether the windows cover every minute of the week in wall-clock time."""
    spans: list[tuple[int, int]] = []
    for window in windows:
        start = window.weekday * _MINUTES_PER_DAY + window.opens
        end = start + window.minutes
        spans += [(start, min(end, _MINUTES_PER_WEEK))] + ([(0, end - _MINUTES_PER_WEEK)] if end > _MINUTES_PER_WEEK else [])
    covered = 0  # every minute before this is covered
    for start, end in sorted(spans):
        if start > covered:
            return False
        covered = max(covered, end)
    return covered >= _MINUTES_PER_WEEK


def canonical(windows: Windows | None) -> list[str] | None:
    """The windows as normalised text (what inputs and outputs store)."""
    return None if windows is None else [str(window) for window in windows]


def effective(own: Any, stack: Any, *, today: date) -> Windows | None:
    """A number's windows: its own ``cutoverWindows`` when it has them, else the stack's."""
    if own is not None:
        return parse_windows(own, today=today)
    return parse_windows(stack, setting=STACK_KEY, today=today)


def _covering(windows: Windows, moment: datetime) -> list[Opening]:
    """The occurrences open at ``moment`` (an occurrence lasts at most a day and an hour)."""
    return [o for w in windows for o in w.occurrences_around(moment, before=2, after=0) if o.contains(moment)]


def period_at(windows: Iterable[Window], moment: datetime) -> Opening | None:
    """The open period ``moment`` is in: occurrences joined while one opens at or before the
    instant another closes (adjacent and overlapping windows, across zones), or None outside."""
    windows = tuple(windows)
    covering = _covering(windows, moment)
    if not covering:
        return None
    here = max(covering, key=lambda o: o.closes)
    end = here.closes
    while end - moment < LONGEST_PERIOD and (later := _covering(windows, end)):
        end = max(o.closes for o in later)
    start = min(o.opens for o in covering)
    while moment - start < LONGEST_PERIOD and (earlier := [
            o for w in windows for o in w.occurrences_around(start, before=2, after=0) if o.opens < start <= o.closes]):
        start = min(o.opens for o in earlier)
    return Opening(here.window, start, end)


def next_period(windows: Iterable[Window], moment: datetime) -> Opening | None:
    """The first open period that opens after ``moment`` (None only without windows)."""
    windows = tuple(windows)
    upcoming = [o for w in windows for o in w.occurrences_around(moment, before=1, after=8) if o.opens > moment]
    if not upcoming:
        return None
    first = min(upcoming, key=lambda o: o.opens)
    period = period_at(windows, first.opens)
    return None if period is None else replace(period, window=first.window, opens=first.opens)


def state(windows: Iterable[Window], now: datetime) -> WindowState:
    """Whether ``now`` is in an open period (until its end), and when the next one opens."""
    windows = tuple(windows)
    current = period_at(windows, now)
    return WindowState(current, next_period(windows, current.closes if current else now))
