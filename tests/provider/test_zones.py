"""Which zone names windows and blackouts take, and the time zone database they run on (provider/zones.py).

Facts of the pinned tzdata 2026.6 (IANA 2026f) used here: ``EST`` is a link to America/Panama
(UTC-05:00 all year), ``Japan`` to Asia/Tokyo; British Columbia keeps UTC-07:00 all year from
2026-11-01 (America/Vancouver), where tz 2025b still has it fall back to UTC-08:00.
"""

from __future__ import annotations

import importlib.resources
import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import tzdata

from provider import windows as change_windows, zones
from provider.errors import ConfigurationError
from provider.windows import WindowError, parse_window, parse_windows, state

TODAY = date(2026, 1, 1)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
                                  "America/Argentina/Buenos_Aires", "UTC", "Etc/UTC"])
def test_a_region_name_or_utc_is_accepted(name: str) -> None:
    assert zones.checked(name) == name
    assert str(parse_window(f"Sun 10:00-12:00 {name}", today=TODAY)) == f"Sun 10:00-12:00 {name}"


# (name, what it is, the region the refusal names)
REFUSED = [
    ("EST", "an abbreviation (UTC-05:00 all year)", "use a region such as America/New_York"),
    ("est", "an abbreviation (UTC-05:00 all year)", "use a region such as America/New_York"),
    ("CET", "an abbreviation", "use a region such as Europe/Berlin"),
    ("MST", "an abbreviation (UTC-07:00 all year)", "use a region such as America/Denver"),
    ("CEST", "an abbreviation", "use a region such as Europe/Berlin"),  # not a database name at all
    ("MST7MDT", "a legacy rule", "use a region such as America/Denver"),
    ("Etc/GMT+2", "a fixed offset (UTC-02:00 all year)", "use a region such as America/Noronha"),
    ("Etc/GMT-14", "a fixed offset (UTC+14:00 all year)", "use a region such as Pacific/Kiritimati"),
    ("GMT", "a legacy name (UTC+00:00 all year)", "use UTC"),
    ("Etc/UCT", "a legacy name (UTC+00:00 all year)", "use UTC"),
    ("Japan", "a legacy name (UTC+09:00 all year)", "use a region such as Asia/Tokyo"),
    ("NZ", "a legacy name", "use a region such as Pacific/Auckland"),
    ("Factory", "the database's placeholder for a zone not set",
     "use a region such as Europe/Berlin, America/New_York or UTC"),
]


@pytest.mark.parametrize("name, what, instead", REFUSED)
def test_abbreviations_fixed_offsets_and_factory_are_refused_naming_a_region(name: str, what: str, instead: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(f"Sun 03:00-05:00 {name}", today=TODAY)
    assert str(caught.value) == f"{name!r} is {what}, not a region's time zone: {instead}"
    assert isinstance(caught.value, ConfigurationError)


def test_the_refusal_is_read_off_the_database_not_a_list_of_names() -> None:
    refused = {name for name in zones.names() if not zones.is_region(name)}
    assert {"EST", "CET", "Factory", "Etc/GMT+2", "GMT", "Japan", "Etc/Zulu", "WET", "HST"} <= refused
    assert refused.isdisjoint({"UTC", "Etc/UTC"}) and len(refused) > 60
    for name in refused:
        with pytest.raises(WindowError, match="not a region's time zone: use "):
            zones.checked(name)


@pytest.mark.parametrize("name, says", [
    ("europe/berlin", "'europe/berlin' is not an IANA time zone name (did you mean Europe/Berlin?)"),
    ("AMERICA/NEW_YORK", "(did you mean America/New_York?)"),
    ("utc", "(did you mean UTC?)"),
    ("Europe/Berlln", "'Europe/Berlln' is not an IANA time zone name such as Europe/Berlin, America/New_York or UTC"),
    ("Mars/Olympus_Mons", "is not an IANA time zone name such as"),
])
def test_a_misspelt_name_gets_the_case_insensitive_did_you_mean(name: str, says: str) -> None:
    with pytest.raises(WindowError) as caught:
        zones.checked(name)
    assert says in str(caught.value)


def test_in_july_est_would_open_an_hour_late_which_is_why_it_is_refused() -> None:
    # The example: with EST, "Sun 03:00-05:00" opens at 08:00Z in July, 04:00 in New York.
    new_york = parse_windows(["Sun 03:00-05:00 America/New_York"], today=TODAY)
    assert new_york is not None
    opening = state(new_york, at("2026-07-05T06:00:00Z")).next
    assert opening is not None
    assert opening.opens_utc == "2026-07-05T07:00:00Z"
    assert zones._fixed_offset("EST") is not None


# -- the pinned database runs, whatever the machine has ------------------------------------------


@pytest.fixture
def fake_os_database(tmp_path: Path) -> Iterator[Path]:
    """zoneinfo's search path pointed at a database in which Europe/Berlin has Tokyo's rules and a
    Mars/Olympus_Mons zone exists; zoneinfo's own state restored afterwards."""
    tokyo = importlib.resources.files("tzdata.zoneinfo.Asia").joinpath("Tokyo").read_bytes()
    for name in ("Europe/Berlin", "Mars/Olympus_Mons", "America/Vancouver"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(tokyo)
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    _forget()
    try:
        yield tmp_path
    finally:
        zoneinfo.reset_tzpath()
        _forget()


def _forget() -> None:
    """Every cache between a zone name and an instant, so that the test computes afresh."""
    zoneinfo.ZoneInfo.clear_cache()
    for cached in (zones.zone, zones.names, change_windows._parse, change_windows._occurrence):
        cached.cache_clear()


def test_windows_run_on_the_pinned_tzdata_even_when_the_os_database_says_otherwise(fake_os_database: Path) -> None:
    # The standard library now reads the fake OS database first ...
    os_offset = zoneinfo.ZoneInfo("Europe/Berlin").utcoffset(datetime(2026, 12, 1))
    assert os_offset is not None
    assert os_offset.total_seconds() == 9 * 3600
    assert "Mars/Olympus_Mons" in zoneinfo.available_timezones()
    # ... and windows still open at Berlin's time (03:00 CET is 02:00Z), from a fresh parse
    windows = parse_windows(["Sat 03:00-05:00 Europe/Berlin"], today=TODAY)
    assert windows is not None
    opening = state(windows, at("2026-12-09T12:00:00Z")).next
    assert opening is not None
    assert opening.opens_utc == "2026-12-12T02:00:00Z"
    offset = zones.zone("Europe/Berlin").utcoffset(datetime(2026, 12, 1))
    assert offset is not None
    assert offset.total_seconds() == 3600
    with pytest.raises(WindowError, match="'Mars/Olympus_Mons' is not an IANA time zone name"):
        zones.checked("Mars/Olympus_Mons")


def test_british_columbia_keeps_utc_minus_7_from_november_2026_as_the_pinned_release_says() -> None:
    # tz 2025b (this machine's OS copy) falls back to UTC-08:00 on 2026-11-01; 2026f does not.
    windows = parse_windows(["Sun 03:00-05:00 America/Vancouver"], today=TODAY)
    assert windows is not None
    where = state(windows, at("2026-11-02T00:00:00Z"))
    assert where.next is not None
    assert (where.next.opens_utc, where.next.opens_local) == (
        "2026-11-08T10:00:00Z", "Sun 2026-11-08 03:00 MST, America/Vancouver")


def test_the_zone_list_is_the_pinned_packages_own() -> None:
    listed = importlib.resources.files("tzdata").joinpath("zones").read_text().split()
    assert zones.names() == frozenset(listed)
    assert zones.zone("Europe/Berlin") is zones.zone("Europe/Berlin"), "one object per zone: wall-time arithmetic"


def test_version_names_the_pinned_time_zone_database() -> None:
    assert zones.version() == f"tzdata {tzdata.__version__} (IANA {tzdata.IANA_VERSION})"
    pinned = next(line for line in (Path(__file__).parents[2] / "requirements.txt").read_text().splitlines()
                  if line.startswith("tzdata=="))
    assert pinned == f"tzdata=={zones.VERSION}"
