"""Concurrency (issue 5): 50 numbers converge in parallel through one provider process, and two
resources declaring the same number are caught before any mutation.

Through the engine protocol: ``Engine.up(program, parallel=4)`` sends the calls from 4 threads
to one ``python -m pulumi.dynamic`` process, as the real engine's 4 gRPC workers do.
"""

from __future__ import annotations

from collections import Counter

import pytest

from emulator.seed import DEMO_PIN, REGIONS, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import max_overlap, offline_intervals
from tests.engine import Engine
from tests.reliability_report import engine_config, registered, storage_of

SAME_NUMBER = "two resources in this stack declare the same phone number"


def _engine(emulator, **config) -> Engine:
    """`pulumi up --continue-on-error`: a refused duplicate must not be what stops the others."""
    return Engine(engine_config(emulator, **config), continue_on_error=True)


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(count)]


def test_fifty_numbers_converge_in_parallel_through_one_provider_process(emulator):
    fresh = _ids("41000000000", 20)       # not registered, verified: a create runs settings -> register
    cutover = _ids("42000000000", 15)     # registered DEFAULT, allow_cutover_on_create: a create cuts over
    adopted = _ids("43000000000", 15)     # registered DEFAULT: adopted, then updated to a region
    for number in fresh:
        emulator.add_number(id=number, platform_type="NOT_APPLICABLE", pin=None)
    for number in cutover + adopted:
        emulator.add_number(id=number, pin=DEMO_PIN)
    region = {number: REGIONS[i % len(REGIONS)] for i, number in enumerate(fresh + cutover + adopted)}

    def res(number: str, storage: str, **extra) -> dict:
        return {"phone_number_id": number, "region": storage, "pin": DEMO_PIN, **extra}

    program = {f"f{n}": res(n, region[n]) for n in fresh}
    program.update({f"c{n}": res(n, region[n], allow_cutover_on_create=True) for n in cutover})
    program.update({f"a{n}": res(n, "DEFAULT") for n in adopted})
    assert len(program) == 50
    eng = _engine(emulator, max_cutovers=1)

    steps = eng.up(program, parallel=4)

    errors = {name: s.error.last_line for name, s in steps.items() if s.error}
    assert errors == {}
    assert all(steps[f"a{n}"].outputs["applied_steps"] == [] for n in adopted), "adopted with zero calls"
    assert all(steps[f"f{n}"].outputs["applied_steps"] == ["settings", "register"] for n in fresh)
    assert all(steps[f"c{n}"].outputs["applied_steps"] == ["deregister", "settings", "register"] for n in cutover)

    program.update({f"a{n}": res(n, region[n]) for n in adopted})
    steps = eng.up(program, parallel=4)

    ops = Counter(s.op for s in steps.values())
    assert ops == Counter({"same": 35, "update": 15}), ops
    assert all(s.error is None for s in steps.values())
    for number in fresh + cutover + adopted:
        record = emulator.number(number)
        assert registered(record) and storage_of(record) == region[number], number
    for name, res_state in eng.state.items():
        number = res_state.outputs["phone_number_id"]
        assert res_state.outputs["region"] == region[number] and res_state.outputs["registered"] is True
    assert max_overlap(offline_intervals(emulator.calls())) <= 1, "maxConcurrentCutovers=1 held"
    mutations = Counter(c["path"].split("/")[1] for c in emulator.calls() if c["method"] == "POST")
    expected = {**{n: 2 for n in fresh}, **{n: 3 for n in cutover + adopted}}
    assert dict(mutations) == expected, "each number got exactly its plan, once"


@pytest.mark.parametrize("parallel", [1, 4])
def test_two_new_resources_declaring_one_number_with_different_regions_are_refused_before_any_call(emulator, parallel):
    eng = _engine(emulator)
    program = {
        "first": {"phone_number_id": UNREGISTERED, "region": "BR", "pin": DEMO_PIN},
        "second": {"phone_number_id": UNREGISTERED, "region": "IN", "pin": DEMO_PIN},
    }

    steps = eng.up(program, parallel=parallel)

    failed = [s for s in steps.values() if s.error is not None]
    assert [s.name for s in failed] == ["second"], "check runs in program order: the second declaration"
    assert SAME_NUMBER in failed[0].failure.last_line and "refused before any change" in failed[0].failure.last_line
    assert "BR" in failed[0].failure.last_line and "IN" in failed[0].failure.last_line
    assert [c for c in emulator.calls() if c["method"] == "POST"] == [], "a check failure stops the deployment"
    assert not registered(emulator.number(UNREGISTERED))


def test_an_update_and_a_create_declaring_one_number_with_different_regions_are_refused_before_any_call(emulator):
    eng = _engine(emulator)
    eng.up({"first": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN}})
    emulator.clear_calls()

    steps = eng.up({
        "first": {"phone_number_id": REGISTERED_BR, "region": "IN", "pin": DEMO_PIN},
        "second": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN},
    })

    assert steps["first"].error is None and SAME_NUMBER in steps["second"].failure.last_line
    assert [c for c in emulator.calls() if c["method"] == "POST"] == []
    assert storage_of(emulator.number(REGISTERED_BR)) == "BR"


def test_duplicates_that_agree_never_run_two_cycles_and_do_not_block_unrelated_numbers(emulator):
    eng = _engine(emulator)
    steps = eng.up({
        "a": {"phone_number_id": REGISTERED_DEFAULT, "region": "DEFAULT", "pin": DEMO_PIN},
        "b": {"phone_number_id": REGISTERED_DEFAULT, "region": "DEFAULT", "pin": DEMO_PIN},
        "c": {"phone_number_id": UNREGISTERED, "region": "GB", "pin": DEMO_PIN},
    }, parallel=4)
    assert all(s.error is None for s in steps.values()), [s.error.last_line for s in steps.values() if s.error]
    assert steps["a"].outputs["applied_steps"] == [] and steps["b"].outputs["applied_steps"] == []
    assert storage_of(emulator.number(UNREGISTERED)) == "GB"
    assert [c["path"] for c in emulator.calls() if c["method"] == "POST"] == [
        f"/{UNREGISTERED}/settings", f"/{UNREGISTERED}/register"]


@pytest.mark.parametrize("parallel", [1, 4])
def test_two_resources_declaring_the_same_number_and_region_run_one_after_the_other_and_the_second_adopts(
        emulator, parallel):
    eng = _engine(emulator)
    program = {name: {"phone_number_id": UNREGISTERED, "region": "BR", "pin": DEMO_PIN} for name in ("a", "b")}

    steps = eng.up(program, parallel=parallel)

    assert all(s.error is None for s in steps.values()), [s.error.last_line for s in steps.values() if s.error]
    posts = [c["path"] for c in emulator.calls() if c["method"] == "POST"]
    assert posts == [f"/{UNREGISTERED}/settings", f"/{UNREGISTERED}/register"], "one cycle, never two interleaved"
    assert sorted(len(s.outputs["applied_steps"]) for s in steps.values()) == [0, 2], "the second adopted"
