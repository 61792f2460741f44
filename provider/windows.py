"""Change windows: when a cutover (a plan that deregisters, taking the number offline) may start.

Pure: no I/O and no clock of its own (callers pass ``now``). One parser serves the stack program,
the provider (a resource's ``cutover_windows`` input and the stack config
``whatsapp-local-storage:cutoverWindows``, which the engine hands over as JSON text) and the CLI.

A window is weekly, written ``"Sun 03:00-05:00 Europe/Berlin"``: the day it opens, the local opening
and closing times, and an IANA time zone (``zoneinfo``; the pinned ``tzdata`` package stands in
where the OS has no time zone database). A closing time at or before the opening time means the
window crosses midnight (``"Wed 23:00-01:00 Asia/Kolkata"`` closes on Thursday); ``24:00`` closes
at the next midnight.

Daylight saving time, as SPEC.md "Change windows" has it:

- an opening time that a clock change skips (Europe/Berlin: Sunday 02:00-03:00 on the last Sunday
  of March) is a configuration error. It is checked for every occurrence in the coming
  ``DST_HORIZON_YEARS`` years, because a weekly window that does not exist one week a year is
  not a rule a change advisory board signed;
- an opening time in a repeated hour (Berlin's last Sunday of October, 02:00-03:00 twice) means
  its first occurrence;
- a window closes at the first instant after it opened at which the local clock reads the
  closing time or later (a closing time that is repeated closes at its first occurrence; one that
  is skipped closes at the clock change).

Each occurrence is a half-open interval of instants ``[opens, closes)``: a cutover may start
inside it, and one that started inside it finishes after it closes (SPEC: "none starts after the
window's end").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import WindowError as WindowError  # defined in the error tree; importable from here too

STACK_KEY = "whatsapp-local-storage:cutoverWindows"
SETTING = "cutoverWindows"
EXAMPLE = '["Sun 03:00-05:00 Europe/Berlin"]'
DST_HORIZON_YEARS = 10
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MINUTES_PER_DAY = 24 * 60
_FORM = re.compile(r"(?P<day>[A-Za-z]+) +(?P<opens>[0-9]{2}:[0-9]{2}) *- *(?P<closes>[0-9]{2}:[0-9]{2}) +"
                   r"(?P<zone>[A-Za-z0-9_+\-/]+)", re.ASCII)
_ISO = "%Y-%m-%dT%H:%M:%SZ"


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
        return ZoneInfo(self.zone)

    def occurrence(self, day: date) -> "Opening":
        """This window's occurrence that opens on the local date ``day`` (of its weekday)."""
        tz = self.tz
        opens = resolve(datetime.combine(day, _time(self.opens)), tz)
        closing_day = day + timedelta(days=0 if self.closes > self.opens else 1)
        closes = resolve(datetime.combine(closing_day, time(0)) + timedelta(minutes=self.closes), tz)
        return Opening(self, opens, max(opens, closes))

    def occurrences_around(self, moment: datetime, *, before: int, after: int) -> list["Opening"]:
        """Occurrences opening on the local dates from ``before`` days before ``moment`` to ``after`` after."""
        local = moment.astimezone(self.tz).date()
        days = (local + timedelta(days=offset) for offset in range(-before, after + 1))
        return [self.occurrence(day) for day in days if day.weekday() == self.weekday]


Windows = tuple[Window, ...]


@dataclass(frozen=True)
class Opening:
    """One occurrence of a window: the instants (UTC) it opens and closes."""

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
    """Where ``now`` stands: inside an occurrence (``current``), and the next opening after now
    (None only when there are no windows at all)."""

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


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_ISO)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """``Sun 2026-12-13 03:00 CET, Europe/Berlin``: a person's reading of the instant."""
    local = moment.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}, {tz.key}"


def _shown(text: str) -> str:
    """A value for an error message: quoted, escaped, and cut short."""
    return repr(text[:60]) + ("..." if len(text) > 60 else "")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _time(minutes: int) -> time:
    return time(minutes // 60 % 24, minutes % 60)


def exists(naive: datetime, tz: ZoneInfo) -> bool:
    """Whether the local wall time ``naive`` happens in ``tz`` (False inside a skipped hour)."""
    return datetime.fromtimestamp(naive.replace(tzinfo=tz).timestamp(), tz).replace(tzinfo=None) == naive


def resolve(naive: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the local clock in ``tz`` reads ``naive`` or later.

    A repeated wall time gives its first occurrence (``fold=0`` is the earlier one); a skipped
    one gives the instant of the clock change, found by bisection between the two readings
    zoneinfo offers for it.
    """
    first = naive.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if exists(naive, tz):
        return first
    second = naive.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    low, high = min(first, second), max(first, second)  # the local clock is before naive at low, past it at high
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> str:
    if name in _zones():
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    near = [zone for zone in _zones() if zone.lower() == name.lower()]
    hint = f" (did you mean {near[0]}?)" if near else " such as Europe/Berlin, America/Santiago or UTC"
    raise WindowError(f"{_shown(name)} is not an IANA time zone name{hint}")


def _day(text: str) -> int:
    lowered = text.lower()
    for index, (short, full) in enumerate(zip(DAYS, _FULL_DAYS)):
        if lowered in (short.lower(), full):
            return index
    raise WindowError(f"{_shown(text)} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


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
        raise WindowError(f"{_shown(text)} is not a window: write \"<day> <HH:MM>-<HH:MM> <IANA time zone>\", "
                          "e.g. \"Sun 03:00-05:00 Europe/Berlin\" (a closing time before the opening time "
                          "crosses midnight)")
    weekday = _day(match["day"])
    opens = _minutes(match["opens"], closing=False)
    closes = _minutes(match["closes"], closing=True)
    if closes == opens:
        raise WindowError(f"{_shown(text)} opens and closes at the same time; to allow cutovers at any time, remove "
                          f"{SETTING}")
    window = Window(weekday, opens, closes, _zone(match["zone"]))
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
            before = (change - timedelta(seconds=1)).astimezone(tz)
            after = change.astimezone(tz)
            raise WindowError(
                f"{window} opens at a time the clocks skip: on {day:%a %Y-%m-%d} {tz.key} goes from "
                f"{before + timedelta(seconds=1):%H:%M} straight to {after:%H:%M}, so the window would not "
                f"open that week. Open it at {after:%H:%M} or later, or before {before + timedelta(seconds=1):%H:%M}")


def parse_windows(value: Any, *, setting: str = SETTING, today: date) -> Windows | None:
    """Every window of a setting, or None when it is absent (cutovers at any time).

    Accepts a list, or the JSON text of one (how the engine hands structured stack config to a
    dynamic provider). An empty list is no window at all: no cutover starts, which is what it says.
    Every problem is reported at once, each naming its item.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            pass  # one window written as plain text: a list of one
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise WindowError(f"{setting} must be a list of windows such as {EXAMPLE}, not {type(value).__name__}")
    windows: list[Window] = []
    problems: list[str] = []
    for index, item in enumerate(value):
        try:
            windows.append(parse_window(item, today=today))
        except WindowError as exc:
            problems.append(f"{setting}[{index}]: {exc}")
    if problems:
        raise WindowError("; ".join(problems))
    return tuple(windows)


def canonical(windows: Windows | None) -> list[str] | None:
    """The windows as normalised text (what inputs and outputs store)."""
    return None if windows is None else [str(window) for window in windows]


def effective(own: Any, stack: Any, *, today: date) -> Windows | None:
    """A number's windows: its own ``cutoverWindows`` when it has them, else the stack's."""
    if own is not None:
        return parse_windows(own, today=today)
    return parse_windows(stack, setting=STACK_KEY, today=today)


def state(windows: Iterable[Window], now: datetime) -> WindowState:
    """Whether ``now`` is inside one of ``windows``, and when the next one opens."""
    current: Opening | None = None
    upcoming: Opening | None = None
    for window in windows:
        # An occurrence lasts at most a day and an hour: two days back covers every open one.
        for occurrence in window.occurrences_around(now, before=2, after=8):
            if occurrence.contains(now) and (current is None or occurrence.closes > current.closes):
                current = occurrence
            if occurrence.opens > now and (upcoming is None or occurrence.opens < upcoming.opens):
                upcoming = occurrence
    return WindowState(current, upcoming)
