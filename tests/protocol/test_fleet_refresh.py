"""Under the engine: a refresh reads a fleet through its business accounts' listings, and stops at
Meta's hourly limit with the same sentence as the CLI.

The provider runs as the engine runs it (``tests/engine.py``: ``python -m pulumi.dynamic`` over
gRPC, one process per command, 4 threads, Read then Diff per resource). Calls are counted from the
emulator's call log.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR
from emulator.state import State
from provider.memory import READ_REUSE_SECONDS
from tests.engine import Engine, ResourceState
from tests.reliability_report import engine_config

ACCOUNTS = [f"5{index:014d}" for index in range(10)]
BR = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}}


@pytest.fixture
def state(emulator: Emulator, _emulator_server: Emulator) -> State:
    """The shared in-process emulator's state (``emulator`` has just reset it)."""
    assert _emulator_server.server is not None, "the shared fixtures run the emulator in-process"
    return _emulator_server.server.state


def stack_of(emulator: Emulator, state: State, size: int, accounts: list[str]) -> tuple[Engine, dict[str, str]]:
    """An engine whose state holds ``size`` numbers in ``accounts`` as `pulumi up` left them: one real
    up of a demo number, its entry copied per number (1,000 ups would cost the test its budget)."""
    eng = Engine(engine_config(emulator), skip_preview=True)
    assert eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN,
                         "waba_id": DEMO_WABA_ID}})["n"].error is None
    model = eng.state.pop("n")
    numbers = {f"7{index:014d}": accounts[index % len(accounts)] for index in range(size)}
    for number, waba in numbers.items():
        state.add_number({"id": number, "waba_id": waba, "pin": DEMO_PIN, "settings": BR})
        ids = {"phone_number_id": number, "waba_id": waba}
        eng.state[f"n{number}"] = replace(model, id=number, inputs={**model.inputs, **ids},
                                          outputs={**model.outputs, **ids})
    emulator.clear_calls()
    return eng, numbers


def test_an_engine_refresh_reads_each_accounts_listing_once_and_makes_at_most_1_1_calls_per_number(
        emulator: Emulator, state: State) -> None:
    """120 numbers in 3 accounts, one provider process (the preview refresh): 4 threads Read at once,
    the first Read of each account fetches its listing and the others wait for it. The 1,000-number,
    10-account refresh at 50 ms is measured in benchmarks/ (the test budget)."""
    eng, numbers = stack_of(emulator, state, 120, ACCOUNTS[:3])
    started = time.monotonic()
    steps = eng.refresh(preview_only=True)
    elapsed = time.monotonic() - started
    assert not [s for s in steps.values() if s.op != "same"], [s for s in steps.values() if s.op != "same"][:2]
    calls = emulator.calls()
    assert len(eng.processes) == 1
    assert len(calls) <= 1.1 * 120, f"{len(calls)} calls for 120 numbers"
    assert [c for c in calls if c["path"].count("/") == 1] == [], "every node came from a listing"
    listings = sorted(c["path"] for c in calls if c["path"].endswith("/phone_numbers"))
    # one listing per account; a one-page listing is fetched again only by a Diff that finds it older
    # than the read cache's bound, so a slow runner may see one more per account per bound
    assert set(listings) == {f"/{w}/phone_numbers" for w in ACCOUNTS[:3]}, "every account listed"
    assert len(listings) <= 3 * (1 + int(elapsed // READ_REUSE_SECONDS)), f"{len(listings)} listings in {elapsed:.1f} s"
    assert sum(c["path"].endswith("/settings") for c in calls) == 120, "Diff reused each Read's settings read"


def test_refresh_fails_the_reads_of_a_limited_account_with_the_clis_sentence_and_reads_the_others(
        emulator: Emulator, state: State) -> None:
    eng, numbers = stack_of(emulator, state, 12, ACCOUNTS[:3])
    emulator.set_rate_limit(1, waba_id=ACCOUNTS[0])
    state.count_business_call(ACCOUNTS[0])  # its one call this hour is spent
    steps = eng.refresh(preview_only=True)
    for number, waba in numbers.items():
        step = steps[f"n{number}"]
        if waba == ACCOUNTS[0]:
            assert step.op == "error" and step.error is not None
            assert f"business account {waba} has used up Meta's hourly limit for reading numbers" in \
                step.error.last_line and "Meta accepts calls again at" in step.error.last_line
        else:
            assert step.op == "same", step
    calls = emulator.calls()
    refused = [c for c in calls if c["code"] == 80008]
    assert [c["path"] for c in refused] == [f"/{ACCOUNTS[0]}/phone_numbers"], "one refusal, never retried"
    limited = {n for n, w in numbers.items() if w == ACCOUNTS[0]}
    assert not [c for c in calls if c["path"].split("/")[1] in limited], "none of its numbers was called"
