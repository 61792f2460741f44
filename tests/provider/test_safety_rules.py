"""Each safety rule as a pure decision: ``safety`` (may this plan start?), ``fleet`` (what one
Pulumi command remembers) and ``ConvergeFailed`` (a failure as data). No network, no engine:
the engine-protocol tests show the same rules through ``python -m pulumi.dynamic``."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from provider import planner
from provider.errors import (
    GraphAPIError,
    PinGuessesTooFast,
    PinMismatch,
    RateLimited,
    RegistrationLimitReached,
    TooManyPinAttempts,
    ERRORS_BY_CODE,
)
from provider.failures import ConvergeFailed, StepFailure
from provider.fleet import Fleet
from provider.ledger import CallLedger
from provider.memory import AttemptBook, CutoverGate
from provider.models import LiveNumber, PhoneNumberNode, StorageConfiguration
from provider.runner import Run
from provider.safety import Desired, Rule, create_cutover_problem, preflight, retry_problem

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
PIN = "123456"


def live(region="BR", registered=True, verified=True, biz_app=False, status=None) -> LiveNumber:
    storage = ({"status": status} if status else
               {"status": "DEFAULT"} if region == "DEFAULT" else
               {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region})
    return LiveNumber(
        node=PhoneNumberNode(id="1", platform_type="CLOUD_API" if registered else "NOT_APPLICABLE",
                             code_verification_status="VERIFIED" if verified else "NOT_VERIFIED",
                             is_on_biz_app=biz_app),
        storage=StorageConfiguration.model_validate(storage))


def plan_for(number: LiveNumber, region: str) -> planner.Plan:
    return planner.plan("1", planner.LiveState(number.registered, number.region), region, settings_flow=True)


def rules(number: LiveNumber, region: str, *, pin=PIN, prior=(), breaker=None, allowed=None) -> list[Rule]:
    problems = preflight(plan_for(number, region), number, Desired(region, pin), prior_calls=CallLedger.of(prior),
                         now=NOW, breaker=breaker, allowed_regions=allowed)
    return [p.rule for p in problems]


# --- preflight ---------------------------------------------------------------------------------


def test_an_in_sync_plan_has_no_problem_whatever_else_holds():
    assert rules(live("BR"), "BR", pin=None, breaker="x", allowed=frozenset()) == []


def test_a_cutover_with_everything_in_order_may_start():
    assert rules(live("BR"), "IN") == []


def test_no_storage_and_unknown_storage_are_never_changed():
    assert Rule.UNMANAGED_STORAGE in rules(live(status="NO_STORAGE_ENABLED"), "BR")
    assert Rule.UNMANAGED_STORAGE in rules(live(status="SOMETHING_NEW"), "BR")


def test_enabled_storage_that_names_no_region_is_unknown_and_never_changed():
    """Without the region, the provider cannot tell whether the number already has the declared one,
    nor restore it after a failed settings call: it is an unrecognised state, not a cutover."""
    number = live(status="IN_COUNTRY_STORAGE_ENABLED")
    assert number.storage_status.value == "UNKNOWN" and number.region is None
    assert rules(number, "BR") == [Rule.UNMANAGED_STORAGE]


@pytest.mark.parametrize("pin,rule", [(None, Rule.PIN_MISSING), ("12345", Rule.PIN_FORMAT), ("12a456", Rule.PIN_FORMAT)])
def test_a_plan_that_registers_needs_a_six_digit_pin(pin, rule):
    assert rules(live("BR"), "IN", pin=pin) == [rule]


def test_a_plan_that_registers_needs_a_verified_number():
    assert rules(live("DEFAULT", registered=False, verified=False), "BR") == [Rule.NOT_VERIFIED]


def test_a_business_app_number_is_never_deregistered():
    assert rules(live("DEFAULT", biz_app=True), "BR") == [Rule.BIZ_APP]


def test_the_budget_counts_calls_inside_the_72_hour_window_only():
    inside = [NOW - timedelta(hours=h) for h in range(1, 9)]  # 8 calls: a cutover needs 2 more
    assert rules(live("BR"), "IN", prior=inside) == []
    assert rules(live("BR"), "IN", prior=inside + [NOW - timedelta(minutes=5)]) == [Rule.BUDGET]
    assert rules(live("BR"), "IN", prior=inside + [NOW - timedelta(hours=73)]) == []


def test_an_open_breaker_refuses_plans_that_deregister_only():
    assert rules(live("BR"), "IN", breaker="2: PinMismatch") == [Rule.BREAKER]
    assert rules(live("DEFAULT", registered=False), "BR", breaker="2: PinMismatch") == []


def test_the_policy_refuses_a_plan_that_sets_storage_outside_allowed_regions():
    assert rules(live("BR"), "DEFAULT", allowed=frozenset({"BR"})) == [Rule.POLICY]
    assert rules(live("BR"), "IN", allowed=frozenset({"BR", "IN"})) == []
    # registering an unregistered number in its own (allowed) storage sets nothing
    assert rules(live("BR", registered=False), "BR", allowed=frozenset({"BR"})) == []


def test_every_problem_is_reported_at_once():
    found = rules(live("BR", verified=False), "DEFAULT", pin=None, breaker="x", allowed=frozenset({"BR"}))
    assert found == [Rule.PIN_MISSING, Rule.NOT_VERIFIED, Rule.BREAKER, Rule.POLICY]


# --- the create-cutover gate -------------------------------------------------------------------


def test_a_create_never_cuts_a_registered_number_over():
    number = live("DEFAULT")
    problem = create_cutover_problem(plan_for(number, "BR"), number, "BR")
    assert problem is not None and problem.rule is Rule.CREATE_CUTOVER
    assert "declare its current region first" in problem.render()


@pytest.mark.parametrize("number", [live("DEFAULT", registered=False), live("BR")], ids=["offline", "in sync"])
def test_the_create_gate_lets_an_offline_or_matching_number_through(number):
    """An unregistered number (a first create, or one a killed process left offline) serves no
    traffic: finishing it is not a cutover."""
    assert create_cutover_problem(plan_for(number, "BR"), number, "BR") is None


def test_the_create_gate_leaves_unmanaged_and_business_app_numbers_to_preflight():
    for number in (live(status="NO_STORAGE_ENABLED"), live("DEFAULT", biz_app=True)):
        assert create_cutover_problem(plan_for(number, "BR"), number, "BR") is None


def test_a_retry_refusal_says_why_and_what_to_do():
    problem = retry_problem("register failed (Graph error 133005)")
    assert problem.rule is Rule.RETRY_REFUSED and "133005" in problem.render() and "fix the cause" in problem.render()


# --- what one Pulumi command remembers --------------------------------------------------------


def test_two_declarations_of_one_number_conflict_only_when_their_regions_differ():
    deployment = Fleet().deployment
    assert deployment.declare("1", "BR") is None
    assert deployment.declare("1", "BR") is None, "a retry or an agreeing duplicate"
    assert deployment.declare("1", "IN") == "BR"
    assert deployment.declare("2", "IN") is None


def test_only_a_declaration_or_a_converge_makes_a_number_wanted_by_the_deployment():
    fleet = Fleet()
    fleet.reads.put(("v25.0", "1"), live())  # a refresh reads; it declares nothing
    assert not fleet.deployment.wants("1")
    fleet.deployment.declare("1", "BR")
    fleet.deployment.mark_converged("2")
    assert fleet.deployment.wants("1") and fleet.deployment.wants("2")


def test_a_failed_cutover_opens_the_breaker_once_and_refuses_the_number():
    fleet = Fleet()
    fleet.gate.trip("1", PinMismatch("x", code=133005))
    fleet.gate.trip("2", RateLimited("y", code=4))
    assert fleet.gate.breaker == "1: PinMismatch", "the first cause is kept"
    assert fleet.attempts.of("1").refusal and fleet.attempts.of("3").refusal is None


def test_failed_attempts_accumulate_calls_and_the_most_specific_refusal():
    fleet = Fleet()
    fleet.attempts.record_failure("1", CallLedger.from_state(["2026-11-30T11:00:00Z"]), None)
    fleet.gate.trip("1", PinMismatch("x", code=133005))
    fleet.attempts.record_failure("1", CallLedger.from_state(["2026-11-30T11:01:00Z", "2026-11-30T11:01:05Z"]),
                                  "register failed: do not re-run")
    record = fleet.attempts.of("1")
    assert len(record.calls) == 3 and record.refusal == "register failed: do not re-run"


# --- failures as data ------------------------------------------------------------------------------


def test_do_not_rerun_is_a_property_of_exactly_the_pin_and_lockout_errors():
    flagged = {code for code, cls in ERRORS_BY_CODE.items() if cls.do_not_rerun}
    assert flagged == {131031, 133005, 133008, 133009, 133016}  # 131031: account locked (e.g. a wrong PIN)
    assert all(cls.do_not_rerun for cls in (PinMismatch, TooManyPinAttempts, PinGuessesTooFast,
                                            RegistrationLimitReached))
    assert GraphAPIError.do_not_rerun == ""


def test_a_register_failure_carries_where_the_number_was_left_and_renders_it():
    cause = PinMismatch("mismatch", code=133005, fbtrace_id="AbC")
    error = ConvergeFailed("1", StepFailure("register", cause), offline=True, storage="DEFAULT",
                           registration_calls=["2026-11-30T11:00:00Z", "2026-11-30T11:00:01Z"], desired="BR")
    assert (error.offline, error.restored, error.storage, len(error.registration_calls)) == (True, False, "DEFAULT", 2)
    text = str(error)
    assert "NOT registered" in text and "Current storage: DEFAULT" in text and "fbtrace_id AbC" in text
    assert "Do NOT re-run automatically" in text and "made 2 register/deregister calls" in text


def test_a_restored_settings_failure_says_it_serves_as_before_and_needs_no_do_not_rerun():
    cause = ERRORS_BY_CODE[131009]("bad value", code=131009)
    error = ConvergeFailed("1", StepFailure("settings", cause, restored=True), offline=False, previous="BR",
                           desired="IN")
    assert "restored to its previous storage BR (Brazil)" in str(error)
    assert "Do NOT re-run" not in str(error) and error.do_not_rerun == ""


# --- the breaker covers cutovers already waiting for a slot ------------------------------------


class _Client:
    """Just enough of GraphClient for PlanRunner: records calls, blocks or fails where told."""

    def __init__(self, log: list[str], *, hold: threading.Event | None = None, fail_register: bool = False) -> None:
        from types import SimpleNamespace

        self.config = SimpleNamespace(max_concurrent_cutovers=1)
        self.retry = SimpleNamespace(delay=lambda attempt, retry_after=None: 0.0)
        self.log, self.hold, self.fail_register = log, hold, fail_register

    def set_pin(self, number_id: str, pin: str) -> None:
        raise AssertionError("the plans here set no PIN")

    def deregister(self, number_id: str, *, deadline: float | None = None) -> None:
        self.log.append(f"{number_id} deregister")
        if self.hold is not None:
            assert self.hold.wait(10)

    def set_storage(self, number_id: str, region: str, *, deadline: float | None = None) -> None:
        self.log.append(f"{number_id} settings")

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode:
        raise AssertionError("no call here has an unknown outcome: nothing is read back")

    def register(self, number_id: str, pin: str, *, region: str | None = None, deadline: float | None = None) -> None:
        self.log.append(f"{number_id} register")
        if self.fail_register:
            raise PinMismatch("mismatch", code=133005)


def test_a_cutover_waiting_for_a_slot_is_refused_when_the_cutover_holding_it_fails():
    import threading

    from provider.runner import PlanRunner

    gate = CutoverGate(AttemptBook())  # one process: one gate for both runners
    log: list[str] = []
    release = threading.Event()
    runners = {n: PlanRunner(_Client(log, hold=release if n == "1" else None, fail_register=n == "1"), gate=gate,
                             say=lambda *_: None, clock=lambda: NOW, sleep=lambda _: None, offline_deadline=60)
               for n in ("1", "2")}
    plans = {n: planner.plan(n, planner.LiveState(True, "BR"), "IN", settings_flow=True) for n in ("1", "2")}
    runs: dict[str, Run] = {}

    def run(n):
        runs[n] = runners[n].run(plans[n], Desired("IN", PIN), live("BR"))

    first = threading.Thread(target=run, args=("1",))
    first.start()
    while "1 deregister" not in log:
        threading.Event().wait(0.01)
    second = threading.Thread(target=run, args=("2",))  # preflight passed; it now waits for the slot
    second.start()
    threading.Event().wait(0.2)
    release.set()
    first.join(10)
    second.join(10)
    assert runs["1"].failure is not None and gate.breaker == "1: PinMismatch"
    assert runs["2"].refusal is not None and runs["2"].refusal.rule is Rule.BREAKER
    assert [entry for entry in log if entry.startswith("2 ")] == [], "the waiting number never went offline"


# --- the runner's own retries stay inside the 72-hour budget ----------------------------------


class _FlakyRegister(_Client):
    """register answers 133004 (temporarily unavailable) and the number reads as not registered."""

    def register(self, number_id: str, pin: str, *, region: str | None = None, deadline: float | None = None) -> None:
        from provider.errors import ServerTemporarilyUnavailable

        self.log.append(f"{number_id} register")
        raise ServerTemporarilyUnavailable("try later", code=133004)

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode:
        return live("DEFAULT", registered=False).node


def test_a_register_retry_that_would_pass_the_budget_is_not_sent():
    """With one call left, a retry would be Meta's 11th call in 72 hours: 133016, a 72-hour block
    of a number that is offline. The transient failure is reported instead."""
    from provider.runner import PlanRunner

    log: list[str] = []
    runner = PlanRunner(_FlakyRegister(log), gate=CutoverGate(AttemptBook()), say=lambda *_: None, clock=lambda: NOW,
                        sleep=lambda _: None, offline_deadline=60)
    plan = planner.plan("1", planner.LiveState(False, "DEFAULT"), "DEFAULT", settings_flow=True)
    run = runner.run(plan, Desired("DEFAULT", PIN), live("DEFAULT", registered=False), budget=1)
    assert log == ["1 register"] and len(run.registration_calls) == 1
    assert run.failure is not None and isinstance(run.failure.cause, GraphAPIError)  # no code otherwise
    assert run.failure.cause.code == 133004
    log.clear()
    run = runner.run(plan, Desired("DEFAULT", PIN), live("DEFAULT", registered=False), budget=10)
    assert log == ["1 register"] * 3, "with budget left, the bounded retries still run"


# --- the runner's check at the moment a cutover starts asks the gate (blackouts included) ------


def test_a_cutover_that_starts_inside_a_blackout_is_refused_with_zero_calls() -> None:
    """Preflight passed earlier (say before a slot freed); at the moment the cutover really starts a
    blackout holds: the runner's second check is the gate's, so no call is made."""
    from provider.blackouts import parse_blackouts
    from provider.runner import PlanRunner

    freeze = parse_blackouts([{"from": "2026-11-30T12:00", "to": "2026-11-30T13:00", "zone": "UTC",
                               "reason": "freeze"}])
    log: list[str] = []
    runner = PlanRunner(_Client(log), gate=CutoverGate(AttemptBook()), say=lambda *_: None,
                        clock=lambda: NOW + timedelta(minutes=5), sleep=lambda _: None, offline_deadline=60)
    plan = planner.plan("1", planner.LiveState(True, "BR"), "IN", settings_flow=True)
    run = runner.run(plan, Desired("IN", PIN, blackouts=freeze), live("BR"))
    assert run.refusal is not None and run.refusal.rule is Rule.BLACKOUT and log == []
    assert "freeze" in run.refusal.message and run.refusal.clears_at == NOW + timedelta(hours=1)
