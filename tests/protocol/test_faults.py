"""Fault matrix (issue 5): a fault at every call of every plan, and the fleet-wide safety rules.

The matrix itself (``tests/fault_matrix.py``) runs ``tests/engine.py``'s engine with the
provider class in this process standing in for the provider process (fresh process state per
command), so that ~220 cases stay fast. The rules that depend on the real provider process (several
resources in one command, ``--parallel``, the circuit breaker, cutover slots, recovery messages as
the CLI prints them) run through ``tests/engine.py`` against ``python -m pulumi.dynamic``.

The table (cases, converged, left offline, calls used) is written to ``tests/out/fault_table.md``;
``python -m tests.reliability_report --faults`` prints it without pytest.
"""

from __future__ import annotations

from collections import Counter

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider.errors import ERRORS_BY_CODE
from tests.calllog import call_kind, max_overlap, offline_intervals, posts
from tests.engine import Engine
from tests.fault_matrix import (
    DO_NOT_RERUN,
    PIN_AND_LOCKOUT_CODES,
    PLANS,
    FaultCase,
    FaultRow,
    fault_cases,
    run_fault_case,
    timeout_cases,
)
from tests.reliability_report import DEFAULT, engine_config, registered, save_fault_rows, storage_of

_ROWS: list[FaultRow] = []


@pytest.fixture(scope="module", autouse=True)
def _save_fault_rows(worker_id):
    """Each pytest-xdist worker runs part of the matrix: it saves its rows, and the session's end
    (tests/conftest.py) merges every worker's rows into one table."""
    yield
    if _ROWS:
        save_fault_rows(worker_id, _ROWS)


def _post_kinds(row: FaultRow) -> Counter:
    return Counter(k for k in row.kinds if k.startswith("POST"))


def _expected_posts(case: FaultCase) -> Counter:
    """The plan's calls, plus the one resend a fault on a mutating call justifies."""
    expected = Counter(f"POST {step}" for step in case.plan.steps)
    if case.phase == "mutating" and case.fault.kind != "permanent":
        if case.step == "settings":
            expected["POST settings"] += 1  # idempotent: the client sends it again as it is
        elif not case.fault.applied:
            expected[f"POST {case.step}"] += 1  # the read showed it had not happened
    return expected


# --- the matrix ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", fault_cases() + timeout_cases(), ids=lambda c: f"{c.index:03d} {c.id}")
def test_fault_matrix(emulator, case: FaultCase):
    row = run_fault_case(emulator, case)
    _ROWS.append(row)
    plan, number = case.plan, case.plan.number

    if case.fault.kind != "permanent":
        # transient errors, lost answers, dropped connections and timeouts converge in the same run
        assert row.converged, row.error
        assert _post_kinds(row) == _expected_posts(case), row.kinds
        if case.fault.kind != "timeout":
            assert row.outputs["applied_steps"] == list(plan.steps)
            assert row.outputs["region"] == plan.target and row.outputs["registered"] is True
        if case.phase == "mutating" and case.step != "settings":
            said = (f"{case.step} took effect despite the failed answer" if case.fault.applied
                    else f"{case.step}: retrying after a temporary failure")
            assert said in row.stderr, "the number is read before register/deregister is sent again"
            if case.fault.kind == "timeout":
                assert f"{case.step} failed after" in row.stderr and "did not answer in time" in row.stderr
        return

    # permanent errors: a clear error naming the number, its state and the fix
    error = row.error
    assert not row.converged and error
    assert number in error
    assert f"Graph error {case.fault.code}" in error, "Meta's code must reach the user"
    assert case.fault.code is not None  # a permanent error carries its Graph code
    fix = ERRORS_BY_CODE[case.fault.code].fix
    if fix:
        assert error.count(fix) == 1, f"the fix must be stated once:\n{error}"
    if case.fault.code in PIN_AND_LOCKOUT_CODES:
        assert DO_NOT_RERUN in error.lower(), error
    else:
        assert DO_NOT_RERUN not in error.lower(), error
    kinds = _post_kinds(row)

    if case.phase == "read":
        assert kinds == Counter(), "a failed read must stop before any mutating call"
        assert row.registered_after == plan.start_registered and row.storage_after == plan.start
    elif case.phase == "readback":
        assert kinds == _expected_posts(case)
        assert row.registered_after and row.storage_after == plan.target
        assert "registered" in error and plan.target in error, "say where the number is now"
    elif case.step == "deregister":
        assert kinds == Counter({"POST deregister": 1}), row.kinds
        assert row.registered_after and row.storage_after == plan.start, "nothing may change"
        assert "still registered" in error and "fix" in error.lower(), error
    elif case.step == "settings" and plan.start_registered:
        # restored to the storage that served traffic before the run, and registered again
        assert kinds == Counter({"POST deregister": 1, "POST settings": 2, "POST register": 1}), row.kinds
        assert row.registered_after and row.storage_after == plan.start
        assert "restored to its previous storage" in error and "registered again" in error, error
    elif case.step == "settings":
        assert kinds == Counter({"POST settings": 1}), row.kinds
        assert not row.registered_after and row.storage_after == plan.start
        assert "still is not" in error and "unchanged" in error, error
    else:  # register
        assert kinds == _expected_posts(case), "register/deregister are never repeated after a refusal"
        assert not row.registered_after
        assert "NOT registered" in error and "Current storage:" in error, error
        assert "fix" in error.lower()

    assert row.rerun_converged, f"a re-run after the cause is fixed must converge:\n{row.rerun_error}"
    if case.phase == "readback":
        assert posts(row.rerun_calls) == [], "the number was already converged"


def test_the_matrix_covers_every_call_position_of_every_plan():
    cases = fault_cases()
    for plan in PLANS:
        positions = {c.position for c in cases if c.plan is plan}
        assert set(plan.steps) <= positions
        assert {"read: GET number", "read: GET settings"} <= positions
        for step in plan.steps:
            kinds = {c.fault.kind for c in cases if c.plan is plan and c.position == step}
            assert kinds == {"transient", "lost", "dropped", "permanent"}
    assert {c.position for c in timeout_cases()} == {"deregister", "settings", "register"}


# --- through the engine protocol -----------------------------------------------------------------


def _engine(emu, version: str = "v25.0", max_cutovers: int = 1) -> Engine:
    """`pulumi up --continue-on-error`: every number reaches the provider, so the provider's own
    fleet rules (breaker, slots) are what stop them, not the engine's stop at the first error."""
    return Engine(engine_config(emu, version=version, max_cutovers=max_cutovers), continue_on_error=True,
                  skip_preview=True)


def _adopt(eng: Engine, program: dict) -> None:
    steps = eng.up(program)
    for step in steps.values():
        assert step.error is None and step.outputs["applied_steps"] == [], step.error


def _kinds(calls: list[dict], number: str) -> list[str]:
    return [call_kind(c, number) for c in calls if c["path"].startswith(f"/{number}")]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.key)
def test_engine_transient_fault_at_every_call_converges_in_one_run(emulator, plan):
    eng = _engine(emulator, plan.version)
    if not plan.create:
        _adopt(eng, plan.program(plan.start))
    emulator.clear_calls()
    n = plan.number
    emulator.fault("GET", f"/{n}", status=503, code=133004, retry_after=0)
    emulator.fault("GET", f"/{n}/settings", status=400, code=80007)
    for step in plan.steps:
        emulator.fault("POST", f"/{n}/{step}", status=503, code=133004)

    step = eng.up(plan.program(plan.target))["n"]

    assert step.error is None, step.error and step.error.details
    assert step.outputs["applied_steps"] == list(plan.steps)
    record = emulator.number(n)
    assert registered(record) and storage_of(record) == plan.target
    sent = Counter(k for k in _kinds(emulator.calls(), n) if k.startswith("POST"))
    assert sent == Counter({f"POST {s}": 2 for s in plan.steps}), "each call once more, nothing else"


@pytest.mark.parametrize("plan", [p for p in PLANS if p.key in ("enable", "v20 enable")], ids=lambda p: p.key)
def test_engine_pin_mismatch_leaves_number_offline_says_so_and_rerun_after_fix_converges(emulator, plan):
    n = plan.number
    eng = _engine(emulator, plan.version)
    _adopt(eng, plan.program(plan.start))
    emulator.patch(n, pin="654321")  # someone changed the two-step PIN in WhatsApp Manager
    emulator.clear_calls()

    step = eng.up(plan.program(plan.target))["n"]

    assert step.op == "error" and step.failure.method == "Update"
    message = step.failure.last_line
    assert n in message and "NOT registered" in message and "Current storage:" in message
    assert "133005" in message and "Do NOT re-run automatically" in message
    assert "declare the number's current two-step PIN" in message
    kinds = _kinds(emulator.calls(), n)
    assert kinds.count("POST register") == 1 and kinds.count("POST deregister") == 1
    assert not registered(emulator.number(n))
    assert eng.state["n"].outputs["region"] == plan.start, "a failed update keeps the old outputs"

    emulator.clear_calls()
    fixed = {"n": {**plan.program(plan.target)["n"], "pin": "654321"}}
    again = eng.up(fixed)["n"]
    assert again.error is None, again.error and again.error.details
    record = emulator.number(n)
    assert registered(record) and storage_of(record) == plan.target
    sent = [k for k in _kinds(emulator.calls(), n) if k.startswith("POST")]
    assert "POST deregister" not in sent, "the re-run resumes from the live state (already offline)"
    assert sent.count("POST register") == 1


def _recent_epochs(emulator, count: int) -> list[float]:
    now = emulator.now()
    return [now - 3600 * (i + 1) for i in range(count)]


def test_engine_meta_budget_block_at_register_is_never_retried_and_says_not_to_rerun(emulator):
    n = REGISTERED_DEFAULT
    eng = _engine(emulator)
    _adopt(eng, {"n": {"phone_number_id": n, "region": DEFAULT, "pin": DEMO_PIN}})
    # 9 calls made elsewhere (another stack, WhatsApp Manager): deregister is the 10th, register the 11th
    emulator.patch(n, registration_calls=_recent_epochs(emulator, 9))
    emulator.clear_calls()
    program = {"n": {"phone_number_id": n, "region": "BR", "pin": DEMO_PIN}}

    step = eng.up(program)["n"]

    message = step.failure.last_line
    assert "133016" in message and "NOT registered" in message and "Do NOT re-run automatically" in message
    kinds = _kinds(emulator.calls(), n)
    assert kinds.count("POST register") == 1 and kinds.count("POST deregister") == 1

    # someone re-runs anyway: still exactly one register attempt per run, nothing else
    emulator.clear_calls()
    again = eng.up(program)["n"]
    assert again.error is not None and "Do NOT re-run automatically" in again.error.last_line
    assert [k for k in _kinds(emulator.calls(), n) if k.startswith("POST")] == ["POST register"]

    emulator.advance(73 * 3600)  # the cause is gone: Meta's block has expired
    emulator.clear_calls()
    fixed = eng.up(program)["n"]
    assert fixed.error is None, fixed.error and fixed.error.details
    assert registered(emulator.number(n)) and storage_of(emulator.number(n)) == "BR"


def test_engine_meta_budget_block_at_deregister_leaves_number_serving_and_says_not_to_rerun(emulator):
    n = REGISTERED_BR
    eng = _engine(emulator)
    _adopt(eng, {"n": {"phone_number_id": n, "region": "BR", "pin": DEMO_PIN}})
    emulator.patch(n, registration_calls=_recent_epochs(emulator, 10))
    emulator.clear_calls()

    step = eng.up({"n": {"phone_number_id": n, "region": "IN", "pin": DEMO_PIN}})["n"]

    message = step.failure.last_line
    assert n in message and "133016" in message and "Do NOT re-run automatically" in message
    assert "still registered" in message and "BR (Brazil)" in message
    assert [k for k in _kinds(emulator.calls(), n) if k.startswith("POST")] == ["POST deregister"]
    record = emulator.number(n)
    assert registered(record) and storage_of(record) == "BR"


@pytest.mark.parametrize("mode", ["emulator", "emulator_keeps_storage"])
@pytest.mark.parametrize("start,target,number", [("BR", "IN", REGISTERED_BR), ("BR", DEFAULT, REGISTERED_BR)],
                         ids=["change", "disable"])
def test_engine_settings_failure_after_deregister_restores_previous_storage(request, mode, start, target, number):
    emu = request.getfixturevalue(mode)
    eng = _engine(emu)
    _adopt(eng, {"n": {"phone_number_id": number, "region": start, "pin": DEMO_PIN}})
    emu.clear_calls()
    emu.fault("POST", f"/{number}/settings", code=131009)

    step = eng.up({"n": {"phone_number_id": number, "region": target, "pin": DEMO_PIN}})["n"]

    message = step.failure.last_line
    assert number in message and "restored to its previous storage" in message and "registered again" in message
    record = emu.number(number)
    assert registered(record) and storage_of(record) == start, "back to what served traffic before the run"
    mutations = [c for c in emu.calls() if c["method"] == "POST"]
    assert [call_kind(c, number) for c in mutations] == [
        "POST deregister", "POST settings", "POST settings", "POST register"]
    restore = mutations[2]["body"]["storage_configuration"]
    if start == DEFAULT:
        assert restore == {"status": "IN_COUNTRY_STORAGE_DISABLED"}
    else:
        assert restore == {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": start}

    emu.clear_calls()
    again = eng.up({"n": {"phone_number_id": number, "region": target, "pin": DEMO_PIN}})["n"]
    assert again.error is None, again.error and again.error.details
    record = emu.number(number)
    assert registered(record) and storage_of(record) == target


@pytest.mark.parametrize("mode", ["emulator", "emulator_keeps_storage"])
def test_engine_settings_and_restore_both_failing_leave_number_unregistered_and_say_so(request, mode):
    emu = request.getfixturevalue(mode)
    n = REGISTERED_BR
    eng = _engine(emu)
    _adopt(eng, {"n": {"phone_number_id": n, "region": "BR", "pin": DEMO_PIN}})
    emu.clear_calls()
    emu.fault("POST", f"/{n}/settings", code=131009, count=2)

    step = eng.up({"n": {"phone_number_id": n, "region": "IN", "pin": DEMO_PIN}})["n"]

    message = step.failure.last_line
    assert "NOT registered" in message and "storage nobody declared" in message
    assert "POST register" not in _kinds(emu.calls(), n), "never registered with undeclared storage"
    assert not registered(emu.number(n))

    again = eng.up({"n": {"phone_number_id": n, "region": "IN", "pin": DEMO_PIN}})["n"]
    assert again.error is None, again.error and again.error.details
    assert registered(emu.number(n)) and storage_of(emu.number(n)) == "IN"


# --- circuit breaker and cutover slots -----------------------------------------------------------

FLEET = [f"2000000000000{i:02d}" for i in range(8)]


def _add_fleet(emulator, ids, **fields) -> None:
    for number in ids:
        emulator.add_number(id=number, pin=DEMO_PIN, **fields)


def _cutover_program(ids, region="BR") -> dict:
    return {f"n{number[-2:]}": {"phone_number_id": number, "region": region, "pin": DEMO_PIN,
                                "allow_cutover_on_create": True} for number in ids}


@pytest.mark.parametrize("max_cutovers", [1, 2])
def test_never_more_numbers_offline_than_max_concurrent_cutovers(emulator, max_cutovers):
    _add_fleet(emulator, FLEET)
    emulator.set_latency(15)  # makes cutovers long enough to overlap if the slots leaked
    eng = _engine(emulator, max_cutovers=max_cutovers)

    steps = eng.up(_cutover_program(FLEET), parallel=4)

    assert all(s.error is None for s in steps.values()), [s.error.last_line for s in steps.values() if s.error]
    calls = emulator.calls()
    intervals = offline_intervals(calls)
    assert sorted(intervals) == sorted(FLEET) and all(len(v) == 1 for v in intervals.values())
    peak = max_overlap(intervals)
    assert peak <= max_cutovers
    if max_cutovers == 2:
        assert peak == 2, "with 4 workers and 2 slots, two cutovers should have overlapped"
    for number in FLEET:
        record = emulator.number(number)
        assert registered(record) and storage_of(record) == "BR"


@pytest.mark.parametrize("max_cutovers", [1, 2])
def test_after_a_failed_cutover_no_other_number_is_taken_offline(emulator, max_cutovers):
    """One number's register fails (PIN mismatch) while others wait for a cutover slot.

    The failing number starts first (the others' first read answers after 0.1 s). The other
    cutovers are slow (settings answers after 0.3 s) and reporting the failure is slower still
    (reading the failed number's storage back takes 0.6 s), so with two slots another cutover
    finishes while the failure is being reported: its slot must not let a third number go offline.
    """
    cutovers = FLEET[:5]
    failing = cutovers[0]
    _add_fleet(emulator, cutovers)
    for number in cutovers[1:]:
        emulator.fault("GET", f"/{number}", delay_ms=100)
        emulator.fault("POST", f"/{number}/settings", delay_ms=300)
    emulator.fault("POST", f"/{failing}/register", code=133005)
    emulator.fault("GET", f"/{failing}/settings", delay_ms=1)  # the first read: no delay to speak of
    emulator.fault("GET", f"/{failing}/settings", delay_ms=600)  # reading it back for the error
    program = _cutover_program(cutovers)
    program["plain"] = {"phone_number_id": UNREGISTERED, "region": "BR", "pin": DEMO_PIN}  # no deregister
    eng = _engine(emulator, max_cutovers=max_cutovers)

    steps = eng.up(program, parallel=4)

    calls = emulator.calls()
    failed_register = next(c for c in calls if c["path"] == f"/{failing}/register")
    assert failed_register["code"] == 133005
    late = [c["path"] for c in calls if c["path"].endswith("/deregister") and c["started"] > failed_register["finished"]]
    assert late == [], "no deregister may start after a cutover failed"
    failed = steps[f"n{failing[-2:]}"]
    assert "NOT registered" in failed.failure.last_line and "Do NOT re-run automatically" in failed.failure.last_line
    refused = [name for name, s in steps.items()
               if s.error and "another cutover failed in this run" in s.error.last_line]
    assert refused, "the numbers still waiting for a slot must be refused"
    for name in refused:
        record = emulator.number(f"2000000000000{name[1:]}")
        assert registered(record) and storage_of(record) == DEFAULT, "refused numbers keep serving"
    deregistered = {c["path"].strip("/").split("/")[0] for c in calls if c["path"].endswith("/deregister")}
    assert all(f"n{n[-2:]}" not in refused for n in deregistered)
    assert steps["plain"].error is None, "plans without a deregister still run"
    assert registered(emulator.number(UNREGISTERED))
    assert max_overlap(offline_intervals(calls)) <= max_cutovers
