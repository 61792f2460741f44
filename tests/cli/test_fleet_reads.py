"""`plan` and `drift` read a fleet with the fewest calls, and stop honestly at Meta's hourly limit.

Counts come from the emulator's call log (never from timings): a number whose `wabaId` is
declared takes its node from its business account's listing (one call per 100 numbers) and its
storage from its own `/settings`; at an account's 80008 the command stops reading that account,
names it and when access returns, and finishes the others.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from emulator.harness import Emulator
from emulator.state import State
from provider import client
from provider.client import READ_WORKERS
from tests.cli.support import run

ACCOUNTS = [f"5{index:014d}" for index in range(10)]
BR = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}}
Write = Callable[..., Path]


@pytest.fixture
def state(emulator: Emulator, _emulator_server: Emulator) -> State:
    """The shared in-process emulator's state (``emulator`` has just reset it)."""
    assert _emulator_server.server is not None, "the shared fixtures run the emulator in-process"
    return _emulator_server.server.state


def fleet(state: State, size: int, accounts: list[str]) -> dict[str, str]:
    """``size`` registered numbers in BR, spread over ``accounts``: number -> its account. Added to the
    in-process emulator's state directly (1,000 control calls would cost a second)."""
    numbers = {f"7{index:014d}": accounts[index % len(accounts)] for index in range(size)}
    for number, waba in numbers.items():
        state.add_number({"id": number, "waba_id": waba, "pin": "123456", "settings": BR})
    return numbers


def declared(numbers: dict[str, str], *, with_account: bool = True) -> dict[str, dict[str, Any]]:
    return {number: {"region": "BR", "pin": "123456", **({"wabaId": waba} if with_account else {})}
            for number, waba in numbers.items()}


def listing_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if c["path"].endswith("/phone_numbers")]


def node_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in calls if c["path"].count("/") == 1]


def test_drift_of_1000_numbers_in_10_accounts_with_waba_ids_makes_at_most_1_05_calls_per_number(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 1000, ACCOUNTS)
    directory = project(declared(numbers))
    started = time.monotonic()
    code, out, err = run("drift", "--stack", "test", project_dir=directory)
    elapsed = time.monotonic() - started
    calls = emulator.calls()
    assert code == 0, err
    assert len(calls) <= 1.05 * 1000, f"{len(calls)} calls for 1,000 numbers"
    assert sorted(c["path"] for c in listing_calls(calls)) == sorted(f"/{w}/phone_numbers" for w in ACCOUNTS)
    assert node_calls(calls) == [], "every node came from its account's listing"
    assert sum(c["path"].endswith("/settings") for c in calls) == 1000
    assert "wabaId" not in err, "no number lacks its business account: nothing to say about node reads"
    assert elapsed < 15, f"{elapsed:.1f} s"


def test_plan_says_once_how_many_numbers_lack_a_waba_id_and_cost_a_node_read_each(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 6, ACCOUNTS[:2])
    entries = declared(numbers)
    for number in list(entries)[:4]:
        del entries[number]["wabaId"]
    code, _, err = run("plan", "--stack", "test", project_dir=project(entries))
    assert code == 0, err
    said = [line for line in err.splitlines() if "wabaId" in line]
    assert len(said) == 1 and said[0].startswith("whatsapp: notice: 4 of 6 numbers have no `wabaId`")
    assert "node read" in said[0] and "python -m provider import" in said[0]
    calls = emulator.calls()
    assert len(node_calls(calls)) == 4 and len(listing_calls(calls)) == 2


def test_a_number_missing_from_its_accounts_listing_falls_back_to_a_node_read(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 4, ACCOUNTS[:1])
    state.add_number({"id": "799999999999999", "waba_id": ACCOUNTS[1], "pin": "123456", "settings": BR})
    entries = declared(numbers)
    moved = next(iter(numbers))
    entries[moved]["wabaId"] = ACCOUNTS[1]  # declared in another account, whose listing lacks it
    code, out, err = run("drift", "--stack", "test", "--format", "json", project_dir=project(entries))
    assert code == 0, err
    assert "cannot list" not in err, "both accounts were listed"
    calls = emulator.calls()
    assert [c["path"] for c in node_calls(calls)] == [f"/{moved}"]
    assert sorted(c["path"] for c in listing_calls(calls)) == sorted(f"/{w}/phone_numbers" for w in ACCOUNTS[:2])


def test_at_the_hourly_limit_a_second_drift_stops_within_seconds_naming_the_account_and_calls_it_no_more(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 30, ACCOUNTS[:3])
    directory = project(declared(numbers))
    emulator.set_rate_limit(1)  # one counted call an hour per account: the first drift's listing
    assert run("drift", "--stack", "test", project_dir=directory)[0] == 0
    emulator.clear_calls()
    started = time.monotonic()
    code, out, err = run("drift", "--stack", "test", project_dir=directory)
    assert time.monotonic() - started < 5, "no wait for an hour, no crawl"
    assert code == 1
    calls = emulator.calls()
    for waba in ACCOUNTS[:3]:
        assert f"business account {waba} has used up Meta's hourly limit" in out
        refused = [c for c in calls if c["code"] == 80008 and c["path"] == f"/{waba}/phone_numbers"]
        assert len(refused) == 1, "the listing is fetched once; its 80008 is not retried"
        after = [c for c in calls if c["started"] >= refused[0]["finished"]
                 and (c["path"].startswith(f"/{waba}/") or numbers.get(c["path"].split("/")[1]) == waba)]
        assert after == [], "no call to the account after its 80008"
    assert "Meta accepts calls again at" in out and "(in about 60 minutes)" in out
    assert sum(c["path"].endswith("/settings") for c in calls) == 0


def test_with_one_account_limited_the_other_accounts_numbers_are_still_reported(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 30, ACCOUNTS[:3])
    directory = project(declared(numbers))
    emulator.set_rate_limit(1, waba_id=ACCOUNTS[0])
    assert run("drift", "--stack", "test", project_dir=directory)[0] == 0
    emulator.clear_calls()
    code, out, err = run("drift", "--stack", "test", "--format", "json", project_dir=directory)
    assert code == 1
    report = {n["phone_number_id"]: n for n in json.loads(out)["numbers"]}
    for number, waba in numbers.items():
        if waba == ACCOUNTS[0]:
            assert report[number]["status"] == "error"
            assert f"business account {waba} has used up Meta's hourly limit" in report[number]["error"]
        else:
            assert report[number]["status"] == "in_sync", report[number]
    limited = {n for n, w in numbers.items() if w == ACCOUNTS[0]}
    assert not [c for c in emulator.calls() if c["path"].split("/")[1] in limited], "none of its numbers was read"


def test_a_limit_met_by_a_number_without_waba_id_stops_the_node_reads_of_every_such_number(
        emulator: Emulator, state: State, project: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "MAX_PACE_SECONDS", 0.01)  # past 90 % reads are paced: not this test's subject
    numbers = fleet(state, 40, ACCOUNTS[:1])
    emulator.set_rate_limit(3)
    code, out, err = run("drift", "--stack", "test", "--format", "json", project_dir=project(
        declared(numbers, with_account=False)))
    assert code == 1
    nodes = node_calls(emulator.calls())
    refused = [c for c in nodes if c["code"] == 80008]
    assert len(nodes) - len(refused) == 3 and refused
    # reads already on their way when the first 80008 came back may still arrive; none starts later
    assert len(nodes) <= 3 + READ_WORKERS, f"{len(nodes)} node reads"
    errors = [n["error"] for n in json.loads(out)["numbers"] if n["status"] == "error"]
    assert len(errors) == 40 - 3 and all("has used up Meta's hourly limit" in e for e in errors)
    assert f"business account {ACCOUNTS[0]}" in errors[-1], "the usage header names the account"


def test_usage_past_the_slow_down_point_is_said_once_with_the_account_and_its_percentage(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 5, ACCOUNTS[:1])
    emulator.set_rate_limit(10)
    for _ in range(8):  # 8 of 10 counted calls used: the listing is the 9th, 90 %
        state.count_business_call(ACCOUNTS[0])
    code, _, err = run("drift", "--stack", "test", project_dir=project(declared(numbers)))
    assert code == 0, err
    said = [line for line in err.splitlines() if f"business account {ACCOUNTS[0]} has used" in line]
    assert said == [f"whatsapp: notice: business account {ACCOUNTS[0]} has used 90% of Meta's hourly limit for "
                    "reading numbers (X-Business-Use-Case-Usage): reads that count against it are paced from now "
                    "on (at most 1 s each); at 100% Meta refuses them (80008)"]


def test_numbers_of_an_account_the_token_cannot_list_are_read_one_by_one_and_that_is_said_once(
        emulator: Emulator, state: State, project: Write) -> None:
    numbers = fleet(state, 3, ACCOUNTS[:1])
    entries = {number: {**entry, "wabaId": "599999999999999"} for number, entry in declared(numbers).items()}
    code, _, err = run("drift", "--stack", "test", project_dir=project(entries))
    assert code == 0, err
    said = [line for line in err.splitlines() if "cannot list business account 599999999999999" in line]
    assert len(said) == 1 and "read one by one" in said[0]
    calls = emulator.calls()
    assert [c["path"] for c in listing_calls(calls)] == ["/599999999999999/phone_numbers"], "listed once"
    assert sorted(c["path"] for c in node_calls(calls)) == sorted(f"/{n}" for n in numbers)
