"""May a cutover start now? The one gate over windows and blackouts (provider/gate.py), as tables.

Weekdays used: 2026-11-22, 2026-11-29 and 2026-12-06 are Sundays; the Black Friday blackout runs
from Fri 2026-11-27 00:00 to Mon 2026-11-30 00:00 New York time (05:00Z both, EST).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from provider.blackouts import Blackouts, parse_blackouts
from provider.gate import Answer, gate
from provider.windows import DAYS, WindowError, Windows, parse_windows, period_at, state

TODAY = date(2026, 1, 1)
BERLIN = "Sun 03:00-05:00 Europe/Berlin"
BLACK_FRIDAY = {"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York",
                "reason": "Black Friday freeze"}
SHOWN = 'blackout "Black Friday freeze" (2026-11-27T00:00 to 2026-11-30T00:00 America/New_York)'


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def windows(*texts: str) -> Windows:
    found = parse_windows(list(texts), today=TODAY)
    assert found is not None
    return found


def blackouts(*items: dict[str, Any]) -> Blackouts:
    return parse_blackouts(list(items)) or ()


def freeze(begins: str, ends: str, reason: str, zone: str = "UTC") -> dict[str, Any]:
    return {"from": begins, "to": ends, "zone": zone, "reason": reason}


# (windows, blackouts, now, answer, sentence)
ANSWERS = [
    # open: until the end of the merged open period
    ([BERLIN], [], "2026-11-22T02:30:00Z", Answer.OPEN,
     "a cutover may start now (2026-11-22T02:30:00Z): in a window (Sun 03:00-05:00 Europe/Berlin) until "
     "2026-11-22T04:00:00Z (Sun 2026-11-22 05:00 CET, Europe/Berlin)"),
    (["Sat 22:00-24:00 UTC", "Sun 00:00-02:00 UTC"], [], "2026-11-21T23:00:00Z", Answer.OPEN,
     "a cutover may start now (2026-11-21T23:00:00Z): in a window (Sat 22:00-24:00 UTC) until "
     "2026-11-22T02:00:00Z (Sun 2026-11-22 02:00 UTC, UTC)"),
    # open, cut short by the next blackout
    (["Thu 22:00-06:00 America/New_York"], [BLACK_FRIDAY], "2026-11-27T04:00:00Z", Answer.OPEN,
     "a cutover may start now (2026-11-27T04:00:00Z): in a window (Thu 22:00-06:00 America/New_York) until "
     f"2026-11-27T05:00:00Z (Fri 2026-11-27 00:00 EST, America/New_York), when {SHOWN} begins"),
    # no windows: any time, or until the next blackout
    (None, [], "2026-11-20T12:00:00Z", Answer.OPEN,
     "a cutover may start now (2026-11-20T12:00:00Z): no change windows, so at any time"),
    (None, [BLACK_FRIDAY], "2026-11-20T12:00:00Z", Answer.OPEN,
     f"a cutover may start now (2026-11-20T12:00:00Z): no change windows, until {SHOWN} begins at "
     "2026-11-27T05:00:00Z (Fri 2026-11-27 00:00 EST, America/New_York)"),
    # waiting outside the windows: the next opening
    ([BERLIN], [], "2026-12-09T12:00:00Z", Answer.WAITING,
     "no cutover may start now (2026-12-09T12:00:00Z): outside its change windows; the next opening is "
     "2026-12-13T02:00:00Z (Sun 2026-12-13 03:00 CET, Europe/Berlin)"),
    # ... pushed past a window that the blackout covers
    ([BERLIN], [BLACK_FRIDAY], "2026-11-26T12:00:00Z", Answer.WAITING,
     "no cutover may start now (2026-11-26T12:00:00Z): outside its change windows; the next opening is "
     f"2026-12-06T02:00:00Z (Sun 2026-12-06 03:00 CET, Europe/Berlin), once {SHOWN} has ended"),
    # waiting in a blackout, even inside a window: its reason, its end, the next opening after it
    ([BERLIN], [BLACK_FRIDAY], "2026-11-29T02:30:00Z", Answer.WAITING,
     f"no cutover may start now (2026-11-29T02:30:00Z): {SHOWN} lasts until 2026-11-30T05:00:00Z (Mon 2026-11-30 "
     "00:00 EST, America/New_York); the next opening at or after its end is 2026-12-06T02:00:00Z (Sun 2026-12-06 "
     "03:00 CET, Europe/Berlin)"),
    (None, [BLACK_FRIDAY], "2026-11-28T12:00:00Z", Answer.WAITING,
     f"no cutover may start now (2026-11-28T12:00:00Z): {SHOWN} lasts until 2026-11-30T05:00:00Z (Mon 2026-11-30 "
     "00:00 EST, America/New_York); the next opening at or after its end is 2026-11-30T05:00:00Z (Mon 2026-11-30 "
     "00:00 EST, America/New_York)"),
    # never: an empty list, whatever the blackouts and the clock
    ([], [], "2026-11-22T02:30:00Z", Answer.NEVER,
     "no cutover may start, at any time: its change windows are an empty list, which means never; add a window "
     "when cutovers may run again"),
    ([], [BLACK_FRIDAY], "2026-11-28T12:00:00Z", Answer.NEVER,
     "no cutover may start, at any time: its change windows are an empty list, which means never; add a window "
     "when cutovers may run again"),
]


@pytest.mark.parametrize("window_texts, items, now, answer, sentence", ANSWERS)
def test_the_gate_answers_open_waiting_or_never_in_one_sentence(window_texts: list[str] | None,
                                                                 items: list[dict[str, Any]], now: str,
                                                                 answer: Answer, sentence: str) -> None:
    found = gate(None if window_texts is None else windows(*window_texts), blackouts(*items), at(now))
    assert (found.answer, found.sentence()) == (answer, sentence)
    assert found.may_start is (answer is Answer.OPEN)
    assert found.facts()["answer"] == answer.value and found.facts()["sentence"] == sentence


def test_a_blackout_ending_inside_a_window_opens_at_its_end() -> None:
    lunch = freeze("2026-11-22T03:00", "2026-11-22T03:30", "provider maintenance")
    found = gate(windows("Sun 02:00-06:00 UTC"), blackouts(lunch), at("2026-11-22T03:10:00Z"))
    assert found.answer is Answer.WAITING and found.opens is not None
    assert (found.opens.utc, found.opens.local) == ("2026-11-22T03:30:00Z", "Sun 2026-11-22 03:30 UTC, UTC")
    after = gate(windows("Sun 02:00-06:00 UTC"), blackouts(lunch), at("2026-11-22T03:30:00Z"))
    assert after.answer is Answer.OPEN and after.until is not None and after.until.utc == "2026-11-22T06:00:00Z"


def test_blackouts_that_touch_or_overlap_are_stepped_over_together() -> None:
    chain = blackouts(freeze("2026-11-01T00:00", "2026-11-10T00:00", "first"),
                      freeze("2026-11-09T00:00", "2026-11-15T00:00", "second"),
                      freeze("2026-11-15T00:00", "2026-11-20T00:00", "third"),
                      freeze("2026-11-21T00:00", "2026-11-23T00:00", "fourth"))
    found = gate(windows("Sun 00:00-04:00 UTC", "Thu 00:00-01:00 UTC"), chain, at("2026-11-05T12:00:00Z"))
    assert found.answer is Answer.WAITING and found.blackout is not None and found.blackout.reason == "first"
    # Thu 11-12 and Sun 11-15 are blacked out, Thu 11-19 too; Sun 11-22 as well: Thu 11-26 is the first free window
    assert found.opens is not None and found.opens.utc == "2026-11-26T00:00:00Z"
    assert found.delayed_by is not None and found.delayed_by.reason == "fourth"
    assert "once blackout \"fourth\"" in found.sentence()


def test_inside_two_blackouts_the_one_that_holds_longest_is_named() -> None:
    two = blackouts(freeze("2026-11-01T00:00", "2026-11-03T00:00", "short"),
                    freeze("2026-11-02T00:00", "2026-11-06T00:00", "long"))
    found = gate(None, two, at("2026-11-02T12:00:00Z"))
    assert found.blackout is not None and found.blackout.reason == "long"
    assert found.opens is not None and found.opens.utc == "2026-11-06T00:00:00Z"


def test_a_blackout_over_an_open_period_makes_waiting_not_open_at_its_first_instant() -> None:
    starts = freeze("2026-11-22T03:00", "2026-11-22T04:00", "exactly now")
    assert gate(windows("Sun 02:00-06:00 UTC"), blackouts(starts), at("2026-11-22T03:00:00Z")).answer is Answer.WAITING
    assert gate(windows("Sun 02:00-06:00 UTC"), blackouts(starts), at("2026-11-22T02:59:59Z")).answer is Answer.OPEN


def test_the_windows_half_agrees_with_the_legacy_state() -> None:
    found = windows("Sat 22:00-24:00 UTC", "Sun 00:00-02:00 UTC")
    for now in ("2026-11-21T23:00:00Z", "2026-11-25T12:00:00Z"):
        answer = gate(found, (), at(now))
        where = state(found, at(now))
        assert (answer.answer is Answer.OPEN) is where.inside
        if where.current is not None:
            assert answer.until is not None and answer.until.at == where.current.closes
        else:
            assert answer.opens is not None and where.next is not None and answer.opens.at == where.next.opens


# -- the gate against a brute-force reading of the rules ------------------------------------------


def _allowed(found: Windows | None, items: Blackouts, moment: datetime) -> bool:
    in_window = found is None or any(
        o.contains(moment) for w in found for o in w.occurrences_around(moment, before=2, after=0))
    return in_window and not any(b.contains(moment) for b in items)


@settings(max_examples=50, deadline=None)
@given(spans=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 23), st.integers(1, 12),
                                st.sampled_from(("UTC", "Europe/Berlin", "America/New_York"))), max_size=3),
       no_windows=st.booleans(),
       frozen=st.lists(st.tuples(st.integers(0, 20 * 24), st.integers(1, 6 * 24)), max_size=3),
       offset=st.integers(0, 14 * 24 * 60))
def test_the_gate_agrees_with_a_brute_force_reading(spans: list[tuple[int, int, int, str]], no_windows: bool,
                                                     frozen: list[tuple[int, int]], offset: int) -> None:
    base = datetime(2026, 10, 20)
    texts = [f"{DAYS[day]} {hour:02d}:00-{(hour + length) % 24:02d}:00 {zone}" for day, hour, length, zone in spans]
    try:
        found = None if no_windows else parse_windows(texts, today=TODAY)
    except WindowError:
        return  # an opening the clocks skip
    items = blackouts(*(freeze(f"{base + timedelta(hours=start):%Y-%m-%dT%H:%M}",
                               f"{base + timedelta(hours=start + length):%Y-%m-%dT%H:%M}", f"freeze {i}")
                        for i, (start, length) in enumerate(frozen)))
    now = base.replace(tzinfo=timezone.utc) + timedelta(minutes=offset)
    answer = gate(found, items, now)
    if found == ():
        assert answer.answer is Answer.NEVER
        return
    assert answer.may_start is _allowed(found, items, now)
    hour = timedelta(hours=1)
    if answer.answer is Answer.OPEN and answer.until is not None:
        assert not _allowed(found, items, answer.until.at) and _allowed(found, items, answer.until.at - timedelta(seconds=1))
        assert all(_allowed(found, items, now + i * hour) for i in range(int((answer.until.at - now) / hour)))
    if answer.answer is Answer.WAITING:
        assert answer.opens is not None and answer.opens.at > now and _allowed(found, items, answer.opens.at)
        assert not _allowed(found, items, answer.opens.at - timedelta(seconds=1)) or answer.opens.at == now
        assert not any(_allowed(found, items, now + i * hour) for i in range(int((answer.opens.at - now) / hour)))
    if found is not None and answer.answer is Answer.OPEN:
        assert period_at(found, now) is not None
