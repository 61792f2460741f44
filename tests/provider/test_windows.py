"""The change-window parser and clock arithmetic (provider/windows.py), as tables.

DST facts used (tz database, 2026-2027):
- Europe/Berlin: clocks skip Sun 02:00-03:00 on 2026-03-29 and 2027-03-28 (CET -> CEST) and
  repeat Sun 02:00-03:00 on 2026-10-25 (CEST -> CET);
- America/Santiago (southern hemisphere): clocks repeat Sat 23:00-24:00 on 2026-04-04 (-03 -> -04,
  at Sunday 00:00) and skip Sun 00:00-01:00 on 2026-09-06 (-04 -> -03);
- Asia/Kolkata: UTC+05:30 all year.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from provider import clock, planner
from provider.errors import ConfigurationError
from provider.ledger import CallLedger
from provider.notices import Notices
from provider.models import LiveNumber, PhoneNumberNode, StorageConfiguration
from provider.safety import Desired, preflight
from provider.windows import DAYS, WindowError, Windows, parse_window, parse_windows, state

TODAY = date(2026, 1, 1)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def parsed(texts: list[str]) -> Windows:
    found = parse_windows(texts, today=TODAY)
    assert found is not None
    return found


@pytest.mark.parametrize("text, canonical", [
    ("Sun 03:00-05:00 Europe/Berlin", "Sun 03:00-05:00 Europe/Berlin"),
    ("sunday 03:00-05:00 Europe/Berlin", "Sun 03:00-05:00 Europe/Berlin"),
    ("  SAT   22:00 - 02:00   UTC ", "Sat 22:00-02:00 UTC"),
    ("Wed 23:00-01:00 Asia/Kolkata", "Wed 23:00-01:00 Asia/Kolkata"),
    ("Fri 18:00-24:00 America/Santiago", "Fri 18:00-24:00 America/Santiago"),
    ("Mon 00:00-24:00 America/Sao_Paulo", "Mon 00:00-24:00 America/Sao_Paulo"),
    # repeated hours are fine (the first occurrence counts)
    ("Sun 02:30-04:00 Europe/London", "Sun 02:30-04:00 Europe/London"),
    ("Sat 23:30-01:00 America/Santiago", "Sat 23:30-01:00 America/Santiago"),
])
def test_a_window_is_read_and_written_back_in_one_spelling(text: str, canonical: str) -> None:
    assert str(parse_window(text, today=TODAY)) == canonical


@pytest.mark.parametrize("text, says", [
    ("Sun 03:00-05:00", "is not a window"),
    ("Sun 3:00-5:00 Europe/Berlin", "is not a window"),
    ("Sun 03:00-05:00 Europe/Berlin extra", "is not a window"),
    ("Sunday-Monday 03:00-05:00 UTC", "is not a window"),
    ("Dom 03:00-05:00 Europe/Berlin", "'Dom' is not a day; use Mon, Tue"),
    ("Sun 24:00-02:00 UTC", "24:00 is not a time of day"),
    ("Sun 03:60-05:00 UTC", "03:60 is not a time of day"),
    ("Sun 03:00-24:01 UTC", "24:01 is not a time of day"),
    ("Sun 03:00-03:00 UTC", "opens and closes at the same time"),
    ("Sun 03:00-05:00 Europe/Berlln", "is not an IANA time zone name"),
    ("Sun 03:00-05:00 europe/berlin", "did you mean Europe/Berlin?"),
    ("Sun 03:00-05:00 ../../etc/passwd", "is not a window"),
    ("Sun 03:00-05:00 CEST", "'CEST' is an abbreviation, not a region's time zone: use a region such as Europe/Berlin"),
    ("Sun 03:00-05:00 Etc/GMT+3", "'Etc/GMT+3' is a fixed offset (UTC-03:00 all year)"),
    ("Sun ０３:00-05:00 UTC", "is not a window"),  # full-width digits are not ASCII digits
    # an opening time the clocks skip is a configuration error, naming the date and the fix
    ("Sun 02:00-04:00 Europe/Berlin", "on Sun 2026-03-29 Europe/Berlin goes from 02:00 straight to 03:00"),
    ("Sun 02:30-04:00 Europe/Berlin", "Open it at 03:00 or later, or before 02:00"),
    ("Sun 00:30-02:00 America/Santiago", "on Sun 2026-09-06 America/Santiago goes from 00:00 straight to 01:00"),
])
def test_a_bad_window_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(text, today=TODAY)
    assert says in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


def test_a_window_never_skipped_in_its_zone_is_fine_at_the_same_wall_time() -> None:
    assert str(parse_window("Sun 02:30-04:00 Asia/Kolkata", today=TODAY)) == "Sun 02:30-04:00 Asia/Kolkata"
    assert str(parse_window("Sat 02:30-04:00 Europe/Berlin", today=TODAY)) == "Sat 02:30-04:00 Europe/Berlin"


@pytest.mark.parametrize("value, says", [
    ("not json", "cutoverWindows[0]: 'not json' is not a window"),
    ({"Sun": "03:00"}, "must be a list of windows"),
    ([3], "cutoverWindows[0]: must be text"),
    (["Sun 03:00-05:00 UTC", "x", "Mon 25:00-01:00 UTC"], "cutoverWindows[1]: 'x' is not a window"),
    (["Sun 03:00-05:00 UTC", "x", "Mon 25:00-01:00 UTC"], "cutoverWindows[2]: 25:00 is not a time"),
])
def test_every_problem_of_a_list_is_named_with_its_item(value: Any, says: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_windows(value, today=TODAY)
    assert says in str(caught.value)


def test_the_engines_json_text_a_plain_window_and_absent_are_read() -> None:
    assert parse_windows('["Sun 03:00-05:00 UTC"]', today=TODAY) == parse_windows(["Sun 03:00-05:00 UTC"], today=TODAY)
    assert parse_windows("Sun 03:00-05:00 UTC", today=TODAY) == parse_windows(["Sun 03:00-05:00 UTC"], today=TODAY)
    assert parse_windows(None, today=TODAY) is None
    assert parse_windows([], today=TODAY) == ()


# (windows, now, inside until | None, next opening UTC, next opening local)
STATES = [
    # Europe/Berlin, winter (CET, UTC+1)
    ("Sun 03:00-05:00 Europe/Berlin", "2026-12-09T12:00:00Z", None,
     "2026-12-13T02:00:00Z", "Sun 2026-12-13 03:00 CET, Europe/Berlin"),
    ("Sun 03:00-05:00 Europe/Berlin", "2026-12-13T02:00:00Z", "2026-12-13T04:00:00Z",
     "2026-12-20T02:00:00Z", "Sun 2026-12-20 03:00 CET, Europe/Berlin"),
    ("Sun 03:00-05:00 Europe/Berlin", "2026-12-13T04:00:00Z", None,  # the end is not inside
     "2026-12-20T02:00:00Z", "Sun 2026-12-20 03:00 CET, Europe/Berlin"),
    # Berlin, spring forward (Sun 2026-03-29): the week before opens at 02:00Z, that day at 01:00Z
    ("Sun 03:00-05:00 Europe/Berlin", "2026-03-22T12:00:00Z", None,
     "2026-03-29T01:00:00Z", "Sun 2026-03-29 03:00 CEST, Europe/Berlin"),
    # a window closing inside the skipped hour closes at the clock change
    ("Sun 01:00-02:30 Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z",
     "2026-04-04T23:00:00Z", "Sun 2026-04-05 01:00 CEST, Europe/Berlin"),
    # Berlin, fall back (Sun 2026-10-25): 02:00-03:00 happens twice. A window closing at 02:30 closes
    # at the first 02:30 (00:30Z); the second pass through 02:15 (01:15Z) is not inside it again
    ("Sun 01:00-02:30 Europe/Berlin", "2026-10-25T00:29:59Z", "2026-10-25T00:30:00Z",
     "2026-11-01T00:00:00Z", "Sun 2026-11-01 01:00 CET, Europe/Berlin"),
    ("Sun 01:00-02:30 Europe/Berlin", "2026-10-25T01:15:00Z", None,
     "2026-11-01T00:00:00Z", "Sun 2026-11-01 01:00 CET, Europe/Berlin"),
    # a window crossing the repeated hour lasts an hour longer: 23:00 CEST to 04:00 CET is 6 hours
    ("Sat 23:00-04:00 Europe/Berlin", "2026-10-24T21:00:00Z", "2026-10-25T03:00:00Z",
     "2026-10-31T22:00:00Z", "Sat 2026-10-31 23:00 CET, Europe/Berlin"),
    # America/Santiago, fall back at Sun 00:00 (2026-04-05): Sat 23:30 happens twice, the first counts
    ("Sat 23:30-01:00 America/Santiago", "2026-04-04T12:00:00Z", None,
     "2026-04-05T02:30:00Z", "Sat 2026-04-04 23:30 -03, America/Santiago"),
    ("Sat 23:30-01:00 America/Santiago", "2026-04-05T03:10:00Z", "2026-04-05T05:00:00Z",
     "2026-04-12T03:30:00Z", "Sat 2026-04-11 23:30 -04, America/Santiago"),
    # Santiago, spring forward (Sun 2026-09-06 00:00 -> 01:00): a window crossing it is an hour shorter
    ("Sat 22:00-02:00 America/Santiago", "2026-09-06T02:00:00Z", "2026-09-06T05:00:00Z",
     "2026-09-13T01:00:00Z", "Sat 2026-09-12 22:00 -03, America/Santiago"),
    ("Sat 22:00-02:00 America/Santiago", "2026-09-05T12:00:00Z", None,
     "2026-09-06T02:00:00Z", "Sat 2026-09-05 22:00 -04, America/Santiago"),
    # Asia/Kolkata, no DST, crossing midnight: Wed 23:00 IST is Wed 17:30Z
    ("Wed 23:00-01:00 Asia/Kolkata", "2026-12-09T17:29:59Z", None,
     "2026-12-09T17:30:00Z", "Wed 2026-12-09 23:00 IST, Asia/Kolkata"),
    ("Wed 23:00-01:00 Asia/Kolkata", "2026-12-09T19:29:59Z", "2026-12-09T19:30:00Z",  # Thursday 00:59:59 IST
     "2026-12-16T17:30:00Z", "Wed 2026-12-16 23:00 IST, Asia/Kolkata"),
    ("Wed 23:00-01:00 Asia/Kolkata", "2026-06-10T17:30:00Z", "2026-06-10T19:30:00Z",  # the same in June
     "2026-06-17T17:30:00Z", "Wed 2026-06-17 23:00 IST, Asia/Kolkata"),
    # several windows in several zones: the earliest opening wins
    ("Sun 03:00-05:00 Europe/Berlin|Thu 09:00-10:00 Asia/Kolkata", "2026-12-09T12:00:00Z", None,
     "2026-12-10T03:30:00Z", "Thu 2026-12-10 09:00 IST, Asia/Kolkata"),
]


@pytest.mark.parametrize("windows, now, until, next_utc, next_local", STATES)
def test_inside_a_window_and_the_next_opening_in_utc_and_local_time(windows: str, now: str, until: str | None,
                                                                   next_utc: str, next_local: str) -> None:
    where = state(parsed(windows.split("|")), at(now))
    assert (where.current.closes_utc if where.current else None) == until
    assert where.next is not None and where.next.opens_utc == next_utc
    assert where.next.opens_local == next_local


# (windows, now, until UTC, until local, next opening UTC): the end of the merged open period
UNTIL = [
    # adjacent: a window longer than a day is written as two that touch
    ("Sat 22:00-24:00 UTC|Sun 00:00-02:00 UTC", "2026-11-21T23:00:00Z", "2026-11-22T02:00:00Z",
     "Sun 2026-11-22 02:00 UTC, UTC", "2026-11-28T22:00:00Z"),
    ("Sun 00:00-02:00 UTC|Sat 22:00-24:00 UTC", "2026-11-22T01:00:00Z", "2026-11-22T02:00:00Z",
     "Sun 2026-11-22 02:00 UTC, UTC", "2026-11-28T22:00:00Z"),
    # overlapping
    ("Sun 01:00-03:00 UTC|Sun 02:00-05:00 UTC", "2026-11-22T01:30:00Z", "2026-11-22T05:00:00Z",
     "Sun 2026-11-22 05:00 UTC, UTC", "2026-11-29T01:00:00Z"),
    ("Sun 02:00-05:00 UTC|Sun 01:00-03:00 UTC", "2026-11-22T02:30:00Z", "2026-11-22T05:00:00Z",
     "Sun 2026-11-22 05:00 UTC, UTC", "2026-11-29T01:00:00Z"),
    # a one-minute gap is a gap
    ("Sat 22:00-23:00 UTC|Sat 23:01-24:00 UTC", "2026-11-21T22:30:00Z", "2026-11-21T23:00:00Z",
     "Sat 2026-11-21 23:00 UTC, UTC", "2026-11-21T23:01:00Z"),
    # four whole days in a row
    ("Mon 00:00-24:00 UTC|Tue 00:00-24:00 UTC|Wed 00:00-24:00 UTC|Thu 00:00-24:00 UTC", "2026-11-23T12:00:00Z",
     "2026-11-27T00:00:00Z", "Fri 2026-11-27 00:00 UTC, UTC", "2026-11-30T00:00:00Z"),
    # across zones: Berlin's Sun 01:00 is Sun 00:00Z in winter (they touch) and Sat 23:00Z in summer (they overlap)
    ("Sat 22:00-24:00 UTC|Sun 01:00-03:00 Europe/Berlin", "2026-11-21T23:00:00Z", "2026-11-22T02:00:00Z",
     "Sun 2026-11-22 02:00 UTC, UTC", "2026-11-28T22:00:00Z"),
    ("Sat 22:00-24:00 UTC|Sun 01:00-03:00 Europe/Berlin", "2026-07-04T22:30:00Z", "2026-07-05T01:00:00Z",
     "Sun 2026-07-05 01:00 UTC, UTC", "2026-07-11T22:00:00Z"),
    # across clock changes: Berlin skips 02:00-03:00 on 2026-03-29, so 23:00-03:00 closes at the
    # change, when 03:00-05:00 opens; Santiago repeats Sat 23:00-24:00 on 2026-04-04, and the
    # closing and the opening 23:30 both take its first occurrence
    ("Sat 23:00-03:00 Europe/Berlin|Sun 03:00-05:00 Europe/Berlin", "2026-03-28T22:30:00Z", "2026-03-29T03:00:00Z",
     "Sun 2026-03-29 05:00 CEST, Europe/Berlin", "2026-04-04T21:00:00Z"),
    ("Sat 20:00-23:30 America/Santiago|Sat 23:30-02:00 America/Santiago", "2026-04-05T00:00:00Z",
     "2026-04-05T06:00:00Z", "Sun 2026-04-05 02:00 -04, America/Santiago", "2026-04-12T00:00:00Z"),
]


@pytest.mark.parametrize("windows, now, until, until_local, next_utc", UNTIL)
def test_in_a_window_until_the_end_of_the_merged_open_period(windows: str, now: str, until: str, until_local: str,
                                                             next_utc: str) -> None:
    where = state(parsed(windows.split("|")), at(now))
    assert where.current is not None and where.current.opens <= at(now)
    assert (where.current.closes_utc, where.current.closes_local) == (until, until_local)
    assert where.next is not None and where.next.opens_utc == next_utc
    assert f"until {until} ({until_local})" in where.describe()


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


@pytest.mark.parametrize("windows", [
    [f"{day} 00:00-24:00 UTC" for day in (*WEEKDAYS, "Sun")],
    # Sunday's last window crosses midnight into Monday's first hour
    [*(f"{day} 00:00-24:00 UTC" for day in WEEKDAYS), "Sun 00:00-23:00 UTC", "Sun 22:00-01:00 UTC"],
])
def test_windows_that_cover_the_whole_week_are_refused_naming_the_way_to_say_any_time(windows: list[str]) -> None:
    with pytest.raises(WindowError, match="together these windows cover the whole week.*remove cutoverWindows"):
        parse_windows(windows, today=TODAY)
    assert parse_windows(windows[:-1], today=TODAY) is not None  # one window less leaves a gap


def test_at_most_64_windows_per_list() -> None:
    many = ["Sun 03:00-05:00 UTC"] * 65  # one text: its parse is cached, so the test stays cheap
    assert len(parse_windows(many[:64], today=TODAY) or ()) == 64
    with pytest.raises(WindowError, match="cutoverWindows lists 65 windows; at most 64"):
        parse_windows(many, today=TODAY)


@settings(max_examples=60, deadline=None)
@given(spans=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 47), st.integers(1, 40),
                                st.sampled_from(("UTC", "Europe/Berlin", "Australia/Lord_Howe"))), min_size=1, max_size=4),
       offset=st.integers(0, 365 * 24 * 60))
def test_the_open_period_is_open_throughout_and_closed_at_its_end(spans: list[tuple[int, int, int, str]],
                                                                  offset: int) -> None:
    texts = [f"{DAYS[day]} {_hhmm(start * 30)}-{_hhmm((start * 30 + length * 30) % 1440 or 1440)} {zone}"
             for day, start, length, zone in spans]
    try:
        windows = parsed(texts)
    except WindowError:
        return  # a skipped opening, a zero-length or whole-week list
    now = at("2026-01-01T00:00:00Z") + timedelta(minutes=offset)
    current = state(windows, now).current
    if current is None:
        return
    # brute force: some occurrence holds every quarter hour of [now, until); none holds until itself
    def held(moment: datetime) -> bool:
        return any(o.contains(moment) for w in windows for o in w.occurrences_around(moment, before=2, after=0))

    quarter = timedelta(minutes=15)
    assert all(held(now + i * quarter) for i in range(int((current.closes - now) / quarter) + 1)
               if now + i * quarter < current.closes)
    assert held(current.closes - timedelta(seconds=1)) and not held(current.closes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def test_no_window_at_all_never_opens() -> None:
    where = state((), at("2026-12-09T12:00:00Z"))
    assert not where.inside and where.next is None
    assert "no cutover starts" in where.describe()


def test_the_test_clock_comes_from_the_environment_only_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    process = Notices()  # the notice is said once per process, by the process's notice sink
    monkeypatch.delenv(clock.VAR, raising=False)
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 5
    monkeypatch.setenv(clock.VAR, "2026-12-13T02:30:00Z")
    assert clock.now() == at("2026-12-13T02:30:00Z")
    process.once(clock.notice())
    assert "WHATSAPP_TEST_NOW is set" in capsys.readouterr().err
    moving = tmp_path / "now"
    moving.write_text("2026-12-13T02:30:00Z\n")
    monkeypatch.setenv(clock.VAR, f"@{moving}")
    assert clock.now() == at("2026-12-13T02:30:00Z")
    moving.write_text("2026-12-13T04:00:00Z")
    assert clock.now() == at("2026-12-13T04:00:00Z"), "read at every call"
    monkeypatch.setenv(clock.VAR, "tomorrow")
    with pytest.raises(ConfigurationError, match="WHATSAPP_TEST_NOW must be an instant"):
        clock.now()


# -- properties over zones with odd clock changes -----------------------------------------------

ZONES = ("Europe/Berlin", "America/Santiago", "Asia/Kolkata", "Australia/Lord_Howe", "America/New_York",
         "Pacific/Chatham", "UTC")


@settings(max_examples=300, deadline=None)
@given(weekday=st.integers(0, 6), opens=st.integers(0, 1439), length=st.integers(1, 1440),
       zone=st.sampled_from(ZONES), offset=st.integers(0, 3 * 365 * 24 * 3600))
def test_the_next_opening_is_the_windows_own_wall_time_and_later_than_now(weekday: int, opens: int, length: int,
                                                                          zone: str, offset: int) -> None:
    closes = (opens + length) % 1440 or 1440
    if closes == opens:
        return
    text = f"{DAYS[weekday]} {opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d} {zone}"
    try:
        [window] = parsed([text])
    except WindowError as exc:
        assert "clocks skip" in str(exc)
        return
    now = at("2026-01-01T00:00:00Z") + timedelta(seconds=offset)
    where = state([window], now)
    assert where.next is not None and where.next.opens > now
    local = where.next.opens.astimezone(window.tz)
    assert (local.weekday(), local.hour * 60 + local.minute) == (weekday, opens), "opens at its own wall time"
    assert state([window], where.next.opens).inside, "the opening instant is inside"
    if where.current is not None:
        assert where.current.opens <= now < where.current.closes


# -- the safety rule: which plans the windows restrict ------------------------------------------


def _preflight(live_region: str | None, registered: bool, declared: str, windows: list[str] | None,
               now: str) -> list[str]:
    storage = ({"status": "DEFAULT"} if live_region == "DEFAULT" else
               {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": live_region})
    number = LiveNumber(node=PhoneNumberNode(id="1", platform_type="CLOUD_API" if registered else "NOT_APPLICABLE",
                                             code_verification_status="VERIFIED"),
                        storage=StorageConfiguration.model_validate(storage))
    plan = planner.plan("1", planner.LiveState(number.registered, number.region), declared, settings_flow=True,
                        enforce_pin=True)
    parsed = None if windows is None else parse_windows(windows, today=TODAY)
    problems = preflight(plan, number, Desired(declared, "123456", True, windows=parsed), prior_calls=CallLedger(),
                         now=at(now), breaker=None)
    return [p.rule.value for p in problems]


@pytest.mark.parametrize("live_region, registered, declared, windows, now, rules", [
    # a cutover (set_pin -> deregister -> settings -> register): only inside a window
    ("BR", True, "IN", ["Sun 03:00-05:00 Europe/Berlin"], "2026-12-09T12:00:00Z", ["outside_window"]),
    ("BR", True, "IN", ["Sun 03:00-05:00 Europe/Berlin"], "2026-12-13T02:00:00Z", []),
    ("BR", True, "IN", [], "2026-12-13T02:00:00Z", ["windows_never"]),  # an empty list: never
    ("BR", True, "IN", None, "2026-12-09T12:00:00Z", []),  # no windows: any time
    # nothing offline: an unregistered number's settings and register, an adoption
    ("DEFAULT", False, "IN", ["Sun 03:00-05:00 Europe/Berlin"], "2026-12-09T12:00:00Z", []),
    ("DEFAULT", False, "DEFAULT", ["Sun 03:00-05:00 Europe/Berlin"], "2026-12-09T12:00:00Z", []),
    ("BR", True, "BR", ["Sun 03:00-05:00 Europe/Berlin"], "2026-12-09T12:00:00Z", []),
])
def test_only_a_plan_that_takes_the_number_offline_waits_for_a_window(live_region: str, registered: bool, declared: str,
                                                                       windows: list[str] | None, now: str,
                                                                       rules: list[str]) -> None:
    assert _preflight(live_region, registered, declared, windows, now) == rules
