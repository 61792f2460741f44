"""The time zone database that change windows and blackouts run on, and which zone names they take.

**The pinned database, whatever the machine has.** ``zoneinfo.ZoneInfo(name)`` reads the OS's
database first and falls back to the ``tzdata`` package only where the OS has none, so two machines
with different OS databases would disagree about when a window opens (tz 2026f moved British
Columbia to UTC-7 all year; an OS still on 2025b says UTC-8 from November 2026). Every zone here is
read from the ``tzdata`` package that requirements.txt pins (``ZoneInfo.from_file``), and the list
of names comes from that package too. Nothing touches zoneinfo's process-wide search path or cache:
the stack program and a library user may rely on them.

**Region names only.** A window or blackout names the place whose clock it follows:
``Europe/Berlin``, ``America/New_York``, or ``UTC`` (``Etc/UTC``). The database also holds names
that follow no place: abbreviations and legacy rules (``EST``, ``CET``, ``MST7MDT``, ``Japan``),
fixed offsets (``Etc/GMT+2``, which is UTC-2: POSIX inverts the sign) and ``Factory`` (the
placeholder for "not set"). ``EST`` keeps UTC-05:00 all year, so ``Sun 03:00-05:00 EST`` opens at
04:00 New York time in July. The rule is read off the database, not listed by hand: a name without
an ``Area/`` part, or under ``Etc/``, is refused, except ``UTC`` and ``Etc/UTC``. The refusal names
a region to use, found in the database where it can be (the region a legacy name is a copy of, or
one that keeps the same offset all year); only what people mean by the US and European
abbreviations is written down (``EST`` is America/Panama's clock in the database, but a person
writing it means New York).
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from .errors import WindowError

VERSION = importlib.metadata.version("tzdata")  # the package's version, as pinned in requirements.txt (2026.6)
# the database release it ships (2026f), from the data itself: its tzdata.zi starts "# version 2026f"
IANA_VERSION = importlib.resources.files("tzdata.zoneinfo").joinpath("tzdata.zi").open(
    encoding="utf-8").readline().removeprefix("# version").strip()
UTC_NAMES = ("UTC", "Etc/UTC")
EXAMPLES = "Europe/Berlin, America/New_York or UTC"
_ISO = "%Y-%m-%dT%H:%M:%SZ"

# What people mean by abbreviations: the database cannot say (its EST is Panama's clock).
_MEANT = {
    **dict.fromkeys(("EST", "EDT", "EST5EDT"), "America/New_York"),
    **dict.fromkeys(("CST", "CDT", "CST6CDT"), "America/Chicago"),
    **dict.fromkeys(("MST", "MDT", "MST7MDT"), "America/Denver"),
    **dict.fromkeys(("PST", "PDT", "PST8PDT"), "America/Los_Angeles"),
    **dict.fromkeys(("CET", "CEST", "MET", "MEST"), "Europe/Berlin"),
    **dict.fromkeys(("EET", "EEST"), "Europe/Athens"),
    **dict.fromkeys(("WET", "WEST"), "Europe/Lisbon"),
    **dict.fromkeys(("BST",), "Europe/London"),
    **dict.fromkeys(("AEST", "AEDT"), "Australia/Sydney"),
    **dict.fromkeys(("JST",), "Asia/Tokyo"),
}


def version() -> str:
    """How ``--version`` names the database: ``tzdata 2026.6 (IANA 2026f)``."""
    return f"tzdata {VERSION} (IANA {IANA_VERSION})"


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """Every zone name the pinned database holds (its own list, not the OS's)."""
    listing = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in listing.splitlines() if line.strip())


def is_region(name: str) -> bool:
    """Whether a database name follows a place's clock (the rule is in the module docstring)."""
    return name in UTC_NAMES or ("/" in name and not name.startswith("Etc/"))


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """The zone ``name`` from the pinned database (one object per name, so that datetimes in the
    same zone compare by wall time as the standard library intends). ``name`` must be one of
    ``names()``: ``checked`` says so to a person."""
    if name not in names():
        raise WindowError(f"{shown(name)} is not in the time zone database (tzdata {VERSION})")
    *area, leaf = name.split("/")
    with importlib.resources.files(".".join(["tzdata.zoneinfo", *area])).joinpath(leaf).open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


def checked(name: str) -> str:
    """``name`` when it is a region of the pinned database; else a WindowError naming the fix."""
    if name in names() and is_region(name):
        return name
    near = next((known for known in sorted(names()) if known.lower() == name.lower()), None)
    if name in names() or name.upper() in _MEANT or (near is not None and not is_region(near)):
        listed = name if name in names() else (near or name.upper())
        instead = suggest(listed)
        raise WindowError(f"{shown(name)} is {_what(listed)}, not a region's time zone: use "
                          f"{instead if instead == 'UTC' else 'a region such as ' + instead}")
    hint = f" (did you mean {near}?)" if near else f" such as {EXAMPLES}"
    raise WindowError(f"{shown(name)} is not an IANA time zone name{hint}")


def _what(name: str) -> str:
    """What a refused name is, read off the database: ``an abbreviation (UTC-05:00 all year)``."""
    if name == "Factory":
        return "the database's placeholder for a zone not set"
    fixed = _fixed_offset(name) if name in names() else None
    kind = ("an abbreviation" if name.isalpha() and name.upper() in _MEANT else "a legacy name" if name in _links()
            else "a fixed offset" if fixed is not None else "a legacy rule")
    return kind + (f" (UTC{_signed(fixed)} all year)" if fixed is not None else "")


def _signed(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _fixed_offset(name: str) -> timedelta | None:
    """The offset a zone keeps all through the coming two years, or None when its clocks change."""
    tz = zone(name)
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    offsets = {(start + timedelta(days=days)).astimezone(tz).utcoffset() for days in range(0, 731, 30)}
    return offsets.pop() if len(offsets) == 1 else None


def suggest(name: str) -> str:
    """A region to use instead of a refused name: what people mean by an abbreviation; else the
    region the database links the name to; else one that keeps the same offset all year (UTC for
    offset zero); else a generic example."""
    if name.upper() in _MEANT:
        return _MEANT[name.upper()]
    if name not in names() or name == "Factory":
        return EXAMPLES
    target = _links().get(name)
    if target is not None and is_region(target):
        return "UTC" if target in UTC_NAMES else target
    offset = _fixed_offset(name)
    return _fixed_regions().get(offset, EXAMPLES) if offset is not None else EXAMPLES


@lru_cache(maxsize=1)
def _links() -> dict[str, str]:
    """The database's own links (``L Asia/Tokyo Japan`` in its tzdata.zi): legacy name -> zone."""
    source = importlib.resources.files("tzdata.zoneinfo").joinpath("tzdata.zi").read_text(encoding="utf-8")
    links = {name: target for _, target, name in (line.split()[:3] for line in source.splitlines()
                                                   if line.startswith("L "))}
    for name, target in links.items():
        for _ in range(8):  # a link to a link: follow it to the zone
            target = links.get(target, target)
        links[name] = target
    return links


@lru_cache(maxsize=1)
def _fixed_regions() -> dict[timedelta, str]:
    """For each offset that some region keeps all year, the first such region (not a link); UTC for zero."""
    found: dict[timedelta, str] = {}
    for name in sorted(names()):
        if is_region(name) and name not in UTC_NAMES and name not in _links():
            offset = _fixed_offset(name)
            if offset is not None:
                found.setdefault(offset, name)
    return {**found, timedelta(0): "UTC"}


def shown(text: str) -> str:
    """A value for an error message: quoted, escaped, and cut short."""
    return repr(text[:60]) + ("..." if len(text) > 60 else "")


# -- instants and wall times ------------------------------------------------------------------


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_ISO)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """``Sun 2026-12-13 03:00 CET, Europe/Berlin``: a person's reading of the instant."""
    local = moment.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}, {tz.key}"


def exists(naive: datetime, tz: ZoneInfo) -> bool:
    """Whether the local wall time ``naive`` happens in ``tz`` (False inside a skipped hour)."""
    return datetime.fromtimestamp(naive.replace(tzinfo=tz).timestamp(), tz).replace(tzinfo=None) == naive


def resolve(naive: datetime, tz: ZoneInfo, *, second: bool = False) -> datetime:
    """The first instant (UTC) at which the local clock in ``tz`` reads ``naive`` or later.

    A repeated wall time gives its first occurrence (``fold=0``), or its second with ``second``;
    a skipped one gives the instant of the clock change, found by bisection between the two
    readings zoneinfo offers for it.
    """
    first = naive.replace(tzinfo=tz, fold=1 if second else 0).astimezone(timezone.utc)
    if exists(naive, tz):
        return first
    other = naive.replace(tzinfo=tz, fold=0 if second else 1).astimezone(timezone.utc)
    low, high = min(first, other), max(first, other)  # the local clock is before naive at low, past it at high
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def skipped(naive: datetime, tz: ZoneInfo) -> str:
    """The sentence for a wall time the clocks skip: ``on Sun 2026-03-29 Europe/Berlin goes from
    02:00 straight to 03:00``."""
    change = resolve(naive, tz)
    before = (change - timedelta(seconds=1)).astimezone(tz) + timedelta(seconds=1)
    after = change.astimezone(tz)
    return f"on {naive:%a %Y-%m-%d} {tz.key} goes from {before:%H:%M} straight to {after:%H:%M}"
