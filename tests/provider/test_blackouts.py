"""Blackouts, dated periods in which no cutover starts (provider/blackouts.py), as tables.

Clock changes used (pinned tzdata 2026f):
- Europe/Berlin skips 02:00-03:00 on Sun 2026-03-29 and repeats 02:00-03:00 on Sun 2026-10-25;
- America/New_York skips 02:00-03:00 on Sun 2026-03-08 and repeats 01:00-02:00 on Sun 2026-11-01;
- Australia/Lord_Howe moves by 30 minutes: it repeats 01:30-02:00 on Sun 2026-04-05 (+11 -> +10:30)
  and skips 02:00-02:30 on Sun 2026-10-04.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from provider.blackouts import (MAX_DAYS, STACK_KEY, Blackout, canonical, effective, parse_blackout,
                                parse_blackouts)
from provider.errors import ConfigurationError
from provider.windows import WindowError

BLACK_FRIDAY = {"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York",
                "reason": "Black Friday freeze"}


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def blackout(**changes: Any) -> dict[str, Any]:
    return {**BLACK_FRIDAY, **changes}


def test_a_blackout_is_local_wall_time_in_its_zone_with_an_exclusive_end() -> None:
    [found] = parse_blackouts([BLACK_FRIDAY]) or ()
    assert (found.starts, found.ends) == (at("2026-11-27T05:00:00Z"), at("2026-11-30T05:00:00Z"))
    assert found.contains(at("2026-11-27T05:00:00Z")) and found.contains(at("2026-11-30T04:59:59Z"))
    assert not found.contains(at("2026-11-30T05:00:00Z")) and not found.contains(at("2026-11-27T04:59:59Z"))
    assert str(found) == 'blackout "Black Friday freeze" (2026-11-27T00:00 to 2026-11-30T00:00 America/New_York)'


# (zone, from, to, starts UTC, ends UTC)
CLOCK_CHANGES = [
    # a repeated hour: `from` takes the first occurrence, `to` the second, so the whole hour is covered
    ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T05:00", "2026-10-25T00:30:00Z", "2026-10-25T04:00:00Z"),
    ("Europe/Berlin", "2026-10-25T00:00", "2026-10-25T02:30", "2026-10-24T22:00:00Z", "2026-10-25T01:30:00Z"),
    ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T02:45", "2026-10-25T00:30:00Z", "2026-10-25T01:45:00Z"),
    ("America/New_York", "2026-11-01T01:30", "2026-11-01T04:00", "2026-11-01T05:30:00Z", "2026-11-01T09:00:00Z"),
    ("America/New_York", "2026-10-31T22:00", "2026-11-01T01:30", "2026-11-01T02:00:00Z", "2026-11-01T06:30:00Z"),
    ("Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-05T03:00", "2026-04-04T14:45:00Z", "2026-04-04T16:30:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T22:00", "2026-04-05T01:45", "2026-04-04T11:00:00Z", "2026-04-04T15:15:00Z"),
    # bounds next to a skipped hour are fine
    ("Europe/Berlin", "2026-03-29T01:59", "2026-03-29T03:00", "2026-03-29T00:59:00Z", "2026-03-29T01:00:00Z"),
    ("America/New_York", "2026-03-08T01:00", "2026-03-08T03:00", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"),
    ("Australia/Lord_Howe", "2026-10-04T01:00", "2026-10-04T02:30", "2026-10-03T14:30:00Z", "2026-10-03T15:30:00Z"),
]


@pytest.mark.parametrize("zone, begins, ends, starts_utc, ends_utc", CLOCK_CHANGES)
def test_bounds_at_clock_changes(zone: str, begins: str, ends: str, starts_utc: str, ends_utc: str) -> None:
    found = parse_blackout(blackout(zone=zone, **{"from": begins, "to": ends}))
    assert (found.starts, found.ends) == (at(starts_utc), at(ends_utc))


@pytest.mark.parametrize("zone, field, value, says", [
    ("Europe/Berlin", "from", "2026-03-29T02:30",
     "on Sun 2026-03-29 Europe/Berlin goes from 02:00 straight to 03:00; write 2026-03-29T03:00 or a time before 02:00"),
    ("Europe/Berlin", "to", "2026-03-29T02:00", "on Sun 2026-03-29 Europe/Berlin goes from 02:00 straight to 03:00"),
    ("America/New_York", "from", "2026-03-08T02:59",
     "on Sun 2026-03-08 America/New_York goes from 02:00 straight to 03:00"),
    ("Australia/Lord_Howe", "to", "2026-10-04T02:15",
     "on Sun 2026-10-04 Australia/Lord_Howe goes from 02:00 straight to 02:30; write 2026-10-04T02:30 or a time "
     "before 02:00"),
])
def test_a_bound_in_a_skipped_hour_is_an_error_naming_the_clock_change(zone: str, field: str, value: str,
                                                                       says: str) -> None:
    item = blackout(zone=zone, **{"from": "2026-01-01T00:00", "to": "2026-03-30T00:00"})
    item.update({field: value} if field == "from" else {field: value, "from": value[:10] + "T00:00"})
    with pytest.raises(WindowError) as caught:
        parse_blackouts([BLACK_FRIDAY, item])
    assert f"cutoverBlackouts[1].{field}: {value} does not happen: {says}" in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


def test_at_most_90_days_long_counted_in_real_time() -> None:
    # 2026-03-01 to 2026-05-30 is 90 days on the wall but an hour less in Berlin (clocks go forward)
    assert parse_blackout(blackout(zone="Europe/Berlin", **{"from": "2026-03-01T00:00", "to": "2026-05-30T00:00"}))
    assert parse_blackout(blackout(zone="UTC", **{"from": "2026-01-01T00:00", "to": "2026-04-01T00:00"}))  # 90 days
    with pytest.raises(WindowError) as caught:
        parse_blackouts([blackout(zone="UTC", **{"from": "2026-01-01T00:00", "to": "2026-04-01T00:01"})])
    assert f"cutoverBlackouts[0].to: the blackout lasts 90 days; at most {MAX_DAYS} days" in str(caught.value)
    with pytest.raises(WindowError, match=r"\[0\].to: the blackout lasts 91.04 days"):  # Berlin, clocks back
        parse_blackouts([blackout(zone="Europe/Berlin", **{"from": "2026-10-01T00:00", "to": "2026-12-31T00:00"})])


def test_at_most_64_blackouts_per_list() -> None:
    many = [blackout(**{"from": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}T00:00",
                        "to": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}T01:00"}) for i in range(65)]
    assert len(parse_blackouts(many[:64]) or ()) == 64
    with pytest.raises(WindowError, match="cutoverBlackouts lists 65 blackouts; at most 64"):
        parse_blackouts(many)


@pytest.mark.parametrize("item, says", [
    (blackout(to="2026-11-27T00:00"), ".to: must be after `from` (2026-11-27T00:00)"),
    (blackout(to="2026-11-26T00:00"), ".to: must be after `from`"),
    # a repeated 02:30 would be an hour apart, but a reviewer reads "from 02:30 to 02:30" as nothing
    (blackout(zone="Europe/Berlin", **{"from": "2026-10-25T02:30", "to": "2026-10-25T02:30"}), ".to: must be after"),
    (blackout(**{"from": "2026-11-27"}), ".from: '2026-11-27' is not a local date and time: write it as 2026-11-27T00:00"),
    (blackout(**{"from": "2026-11-27T00:00:00"}), ".from: '2026-11-27T00:00:00' is not a local date and time"),
    (blackout(**{"from": "2026-11-27T00:00-05:00"}), ".from: '2026-11-27T00:00-05:00' is not a local date and time: "
                                                     "write it as 2026-11-27T00:00 (no seconds and no offset: `zone` "
                                                     "says where), the first minute of the blackout"),
    (blackout(to="2026-02-30T00:00"), ".to: '2026-02-30T00:00' is not a date and time of the calendar"),
    (blackout(to=20261130), ".to: int is not a local date and time"),
    (blackout(zone="EST"), ".zone: 'EST' is an abbreviation (UTC-05:00 all year), not a region's time zone: "
                           "use a region such as America/New_York"),
    (blackout(zone="america/new_york"), ".zone: 'america/new_york' is not an IANA time zone name (did you mean "
                                        "America/New_York?)"),
    (blackout(zone=3), ".zone: must be an IANA time zone name"),
    (blackout(reason=""), ".reason: is empty: say why no cutover may start"),
    (blackout(reason="   "), ".reason: is empty"),
    (blackout(reason=None), ".reason: is required: say why no cutover may start"),
    (blackout(reason="freeze\n::error::x"), ".reason: 'freeze\\n::error::x' holds a control or invisible character"),
    (blackout(reason="freeze\u202egnp.exe"), ".reason: 'freeze\\u202egnp.exe' holds a control or invisible character"),
    (blackout(reason="x" * 121), ".reason: is 121 characters long; at most 120"),
    (blackout(reason=["a"]), ".reason: must be text, not list"),
    ({k: v for k, v in BLACK_FRIDAY.items() if k != "zone"}, ".zone: is required: the time zone of `from` and `to`"),
    (blackout(until="2026-12-01T00:00"), ": unknown key 'until'; the keys are from, to, zone, reason"),
    ("Black Friday", ": must be a map such as {\"from\": \"2026-11-27T00:00\""),
])
def test_a_bad_blackout_is_refused_naming_its_item_and_field(item: Any, says: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_blackouts([BLACK_FRIDAY, item])
    assert f"cutoverBlackouts[1]{says}" in str(caught.value)


def test_every_problem_of_a_list_is_reported_at_once() -> None:
    with pytest.raises(WindowError) as caught:
        parse_blackouts([blackout(zone="CET", reason=""), BLACK_FRIDAY, blackout(to="x")], setting=STACK_KEY)
    message = str(caught.value)
    assert message.count(STACK_KEY) == 3
    for part in (f"{STACK_KEY}[0].zone: 'CET'", f"{STACK_KEY}[0].reason: is empty", f"{STACK_KEY}[2].to: 'x'"):
        assert part in message


@pytest.mark.parametrize("value, says", [
    ("not json", "cutoverBlackouts must be a list of blackouts such as [{\"from\""),
    (json.dumps(BLACK_FRIDAY), "must be a list of blackouts such as"),
    (BLACK_FRIDAY, "must be a list of blackouts such as"),
    (3, "must be a list of blackouts such as"),
])
def test_a_setting_that_is_not_a_list_says_how_to_write_one(value: Any, says: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_blackouts(value)
    assert says in str(caught.value)


def test_the_engines_json_text_reads_as_the_list_and_one_spelling_is_stored() -> None:
    spelt = [{"reason": "  Black Friday freeze ", "zone": " America/New_York", "to": "2026-11-30T00:00",
              "from": "2026-11-27T00:00"}]
    assert parse_blackouts(json.dumps(spelt)) == parse_blackouts(spelt) == parse_blackouts([BLACK_FRIDAY])
    assert canonical(parse_blackouts(json.dumps(spelt))) == [BLACK_FRIDAY]
    stored = canonical(parse_blackouts([BLACK_FRIDAY]))
    assert stored is not None
    assert list(stored[0]) == ["from", "to", "zone", "reason"]
    assert canonical(parse_blackouts(canonical(parse_blackouts(spelt)))) == [BLACK_FRIDAY], "canonical reads back"
    assert parse_blackouts(None) is None and canonical(None) is None
    assert parse_blackouts([]) == () and parse_blackouts("[]") == ()


def test_a_numbers_blackouts_add_to_the_stacks() -> None:
    own = blackout(reason="migration of the support line", **{"from": "2026-12-01T00:00", "to": "2026-12-02T00:00"})
    together = effective([own], json.dumps([BLACK_FRIDAY]))
    assert [b.reason for b in together or ()] == ["Black Friday freeze", "migration of the support line"]
    assert effective([BLACK_FRIDAY], [BLACK_FRIDAY]) == parse_blackouts([BLACK_FRIDAY]), "the same one once"
    assert effective(None, None) is None and effective([], None) == ()
    with pytest.raises(WindowError, match=r"whatsapp-local-storage:cutoverBlackouts\[0\].zone"):
        effective(None, [blackout(zone="EST")])
    with pytest.raises(WindowError, match=r"^cutoverBlackouts\[0\].zone"):
        effective([blackout(zone="EST")], None)
    assert isinstance((together or ())[0], Blackout)
