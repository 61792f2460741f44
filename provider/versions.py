"""Meta's Graph API versions and their retirement dates: the one table the provider and the emulator share.

Pure and standard library only (the emulator imports it). Meta serves a call to a retired version
as the oldest version still live ("defaulted to the next oldest usable version"), so what a version
*does* depends on the day: ``served(version, today)`` says which version Meta runs for it.

Source: docs/graph-api.md, "Versions" (Meta's changelog and versions pages, checked December 2026).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_VERSION = re.compile(r"v([0-9]{1,3})\.([0-9]{1,2})")

# v21.0 introduced the /settings flow for local storage; up to v20.0 it was register's parameter.
FIRST_SETTINGS_FLOW = (21, 0)


@dataclass(frozen=True)
class Release:
    version: str
    released: str                    # as docs/graph-api.md states it ("" where it states nothing)
    retires: datetime.date | None    # None: no date announced yet
    derived: bool = False            # the retirement date follows Meta's two-year rule, not a quoted page


D = datetime.date
RELEASES: tuple[Release, ...] = (
    Release("v20.0", "", D(2026, 9, 24)),
    Release("v21.0", "2024-10", D(2027, 1, 21)),
    Release("v22.0", "", D(2027, 5, 20)),
    Release("v23.0", "", D(2027, 10, 8)),
    Release("v24.0", "", D(2028, 2, 18)),
    Release("v25.0", "2026-02", D(2028, 7, 29)),
    Release("v26.0", "2026-07-29", D(2028, 11, 4), derived=True),
    Release("v27.0", "2026-11-04", None),
)
del D


def parse(version: str) -> tuple[int, int]:
    """``"v21.0"`` -> ``(21, 0)``; ValueError for anything else (ASCII digits, matched whole)."""
    m = _VERSION.fullmatch(version)
    if m is None:
        raise ValueError(f"{version!r} is not a Graph API version like v25.0")
    return int(m.group(1)), int(m.group(2))


def name(version: tuple[int, int]) -> str:
    return f"v{version[0]}.{version[1]}"


def oldest_live(today: datetime.date) -> str:
    """The oldest version in the table that Meta still serves on ``today``."""
    for release in RELEASES:
        if release.retires is None or today < release.retires:
            return release.version
    return RELEASES[-1].version


def served(version: str, today: datetime.date) -> str:
    """The version Meta runs for a call to ``version`` on ``today``: itself, or the oldest live one
    when ``version`` is older than that (retired)."""
    oldest = oldest_live(today)
    return oldest if parse(version) < parse(oldest) else version


def retired_on(version: str) -> datetime.date | None:
    """The date ``version`` was (or will be) retired, when the table knows it (versions older
    than the table were retired earlier, on dates it does not hold)."""
    requested = parse(version)
    for release in RELEASES:
        if parse(release.version) == requested:
            return release.retires
    return None


def is_retired(version: str, today: datetime.date) -> bool:
    return served(version, today) != version


def ends_within(version: str, today: datetime.date, days: int) -> datetime.date | None:
    """The retirement date of ``version`` when it falls within ``days`` days from ``today`` (and is
    not past), else None."""
    ends = retired_on(version)
    if ends is None or ends <= today or (ends - today).days > days:
        return None
    return ends


def settings_flow(served_version: str) -> bool:
    """Local storage changes through ``/settings`` on the version Meta serves (v21.0 and later)."""
    return parse(served_version) >= FIRST_SETTINGS_FLOW


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()
