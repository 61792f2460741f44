"""Runs one plan's calls and returns what happened as data (kopf's outcome idea).

The runner makes only the planned calls and the recovery docs/contract.md ("Failures") prescribes; it never raises a
Graph error at its caller. It returns a ``Run``: the steps applied, the register/deregister
timestamps, and, when a call failed, a ``failures.StepFailure`` saying which step, why, and what
the recovery did. ``Executor`` turns that into the one error a person reads (``failures.analyse``).

Inside a cutover (deregister ... register) it holds a cutover slot, checks the breaker and the
number's gate (change windows and blackouts) once the slot is its own (the moment the cutover really starts), trips
the breaker in one place when the cutover fails, and stops retrying at the offline deadline (Pulumi's Cancel and customTimeouts never reach a dynamic provider).

Its collaborators come through the constructor: the Graph calls it makes (``GraphCalls``, a
protocol: ``client.GraphClient`` has them, a test's stand-in may), the process's ``CutoverGate``
(slots and breaker), the clock and the line sink.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

from .errors import DeregistrationIncomplete, GraphAPIError, TransientError
from .failures import StepFailure
from .ledger import CallLedger
from .memory import CutoverGate
from .models import LiveNumber, PhoneNumberNode
from .planner import Plan, Step
from .regions import describe
from .safety import Desired, Problem, breaker_problem, window_problem

REGISTRATION_ATTEMPTS = 3


class GraphCalls(Protocol):
    """The Graph calls a run makes: the planned mutations, and the read after an ambiguous one."""

    def set_pin(self, number_id: str, pin: str) -> None: ...

    def deregister(self, number_id: str, *, deadline: float | None = None) -> None: ...

    def set_storage(self, number_id: str, region: str, *, deadline: float | None = None) -> None: ...

    def register(self, number_id: str, pin: str, *, region: str | None = None,
                 deadline: float | None = None) -> None: ...

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode: ...


@dataclass
class Run:
    applied: list[str] = field(default_factory=list)
    calls: CallLedger = CallLedger()  # the register/deregister calls this run made
    failure: StepFailure | None = None
    refusal: Problem | None = None  # the breaker opened, or its window closed, while this cutover waited for a slot
    budget: int | None = None  # register/deregister calls this run may make (None: no limit given)

    def may_spend(self, more: int) -> bool:
        """Whether ``more`` calls still fit: past Meta's limit a call only earns 133016, a 72-hour block."""
        return self.budget is None or len(self.calls) + more <= self.budget

    @property
    def registration_calls(self) -> list[str]:
        """The calls as ``registration_calls`` writes them (for the failure's message)."""
        return self.calls.serialise()


def no_delay(_attempt: int, retry_after: float | None = None) -> float:
    return 0.0


class PlanRunner:
    def __init__(self, client: GraphCalls, *, gate: CutoverGate, say: Callable[[str, str], None],
                 clock: Callable[[], datetime], sleep: Callable[[float], None], offline_deadline: float,
                 max_cutovers: int = 1, delay: Callable[[int, float | None], float] = no_delay) -> None:
        """``max_cutovers``: the configuration's ``maxConcurrentCutovers``; ``delay(attempt,
        retry_after)``: how long to wait before another attempt (the client's retry policy)."""
        self.client = client
        self.gate = gate
        self.say = say
        self.clock = clock
        self.sleep = sleep
        self.offline_deadline = offline_deadline
        self.max_cutovers = max_cutovers
        self.delay = delay

    def run(self, plan: Plan, desired: Desired, live: LiveNumber, *, budget: int | None = None) -> Run:
        """``budget``: the register/deregister calls left in Meta's 72-hour window (preflight made
        sure the plan fits); the bounded retries of a failed call stay inside it too."""
        if not plan.deregisters:
            return self._steps(plan, desired, live, budget)
        slots = self.gate.slots(self.max_cutovers)
        waited = not slots.acquire(blocking=False)
        if waited:
            self.say(plan.number_id, f"waiting for a cutover slot (maxConcurrentCutovers={self.max_cutovers})")
            slots.acquire()
        failed: BaseException | None = None
        try:
            breaker = self.gate.breaker
            if breaker:
                return Run(refusal=breaker_problem(breaker))
            # Preflight checked the window; this is the moment the cutover starts (its first call
            # follows), which may be later when it waited for a slot.
            outside = window_problem(desired.windows, desired.blackouts, self.clock(), waited=waited)
            if outside is not None:
                return Run(refusal=outside)
            try:
                run = self._steps(plan, desired, live, budget)
            except BaseException as exc:  # a bug or an interrupt mid-cutover counts as a failed cutover
                failed = exc
                raise
            failed = run.failure.cause if run.failure else None
            return run
        finally:
            if failed is not None:
                self.gate.trip(plan.number_id, failed)
            slots.release()

    def _steps(self, plan: Plan, desired: Desired, live: LiveNumber, budget: int | None) -> Run:
        number_id = plan.number_id
        run = Run(budget=budget)
        deadline: float | None = None  # set when this run takes the number offline
        for call in plan.calls:
            try:
                if call.step is Step.SET_PIN:
                    self._timed(number_id, "set_pin", lambda: self.client.set_pin(number_id, desired.pin or ""))
                elif call.step is Step.DEREGISTER:
                    self._registration_call(number_id, "deregister", run, deadline=None)
                    deadline = time.monotonic() + self.offline_deadline
                elif call.step is Step.SETTINGS:
                    region = call.region or ""
                    self._timed(number_id, f"settings({region})",
                                lambda: self.client.set_storage(number_id, region, deadline=deadline))
                elif call.step is Step.REGISTER:
                    self._registration_call(number_id, "register", run, deadline=deadline, pin=desired.pin or "",
                                            region=None if plan.settings_flow else call.region,
                                            storage=plan.desired_region if plan.settings_flow else None)
            except GraphAPIError as exc:
                if call.step is Step.SETTINGS and deadline is not None:  # the number was deregistered
                    run.failure = self._restore(plan, desired, live, run, exc)
                else:
                    run.failure = StepFailure(call.step.value, exc)
                return run
            run.applied.append(call.step.value)
        return run

    def _restore(self, plan: Plan, desired: Desired, live: LiveNumber, run: Run, cause: GraphAPIError) -> StepFailure:
        """``settings`` failed while the number was offline: put back the storage that was serving
        traffic (deregistering may have cleared it) and register, rather than leave it offline or
        register it with storage nobody declared."""
        number_id = plan.number_id
        previous = live.region or ""
        deadline = time.monotonic() + self.offline_deadline
        self.say(number_id, f"settings failed after deregister; restoring storage {describe(live.region)} "
                 "and registering again")
        try:
            self._timed(number_id, f"settings({previous}) [restore]",
                        lambda: self.client.set_storage(number_id, previous, deadline=deadline))
        except GraphAPIError as exc:
            return StepFailure("settings", cause, recovery_step="settings", recovery_cause=exc)
        try:
            self._registration_call(number_id, "register", run, deadline=deadline, pin=desired.pin or "",
                                    storage=previous if plan.settings_flow else None)
        except GraphAPIError as exc:
            return StepFailure("settings", cause, recovery_step="register", recovery_cause=exc)
        return StepFailure("settings", cause, restored=True)

    def _timed(self, number_id: str, label: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            action()
        except GraphAPIError as exc:
            self.say(number_id, f"{label} failed after {time.monotonic() - started:.2f} s: {exc.summary}"
                     + (f" ({exc.reference})" if exc.reference else ""))
            raise
        self.say(number_id, f"{label} ok ({time.monotonic() - started:.2f} s)")

    def _registration_call(self, number_id: str, step: str, run: Run, *, deadline: float | None,
                           pin: str = "", region: str | None = None, storage: str | None = None) -> None:
        """Register or deregister, never retried blindly.

        After a transient failure or an ambiguous timeout the number is read: if the call took
        effect it is done; otherwise it is sent again, at most REGISTRATION_ATTEMPTS times in all,
        never past the offline deadline, and never past the run's share of the 72-hour budget.

        133000 on register means deregister once more first. Deregistering may clear the number's
        storage (docs/graph-api.md, "Changing storage"), so on the settings flow ``storage`` (what the number must have when
        it registers) is set again before register: a number never goes online with storage
        nobody declared. On the register flow ``region`` travels with register itself.
        """
        want_registered = step == "register"
        redo_deregister = False
        attempt = 0
        while True:
            attempt += 1
            run.calls = run.calls.add(self.clock())
            try:
                if want_registered:
                    self._timed(number_id, step, lambda: self.client.register(number_id, pin, region=region,
                                                                               deadline=deadline))
                else:
                    self._timed(number_id, step, lambda: self.client.deregister(number_id, deadline=deadline))
                return
            except DeregistrationIncomplete:
                if not want_registered or redo_deregister or not run.may_spend(2):
                    raise
                redo_deregister = True
                self.say(number_id, "Meta says the previous deregistration is incomplete: deregistering again")
                run.calls = run.calls.add(self.clock())
                self._timed(number_id, "deregister", lambda: self.client.deregister(number_id, deadline=deadline))
                if storage is not None:
                    again = storage
                    self._timed(number_id, f"settings({again}) [after deregistering again]",
                                lambda: self.client.set_storage(number_id, again, deadline=deadline))
                attempt -= 1
                continue
            except TransientError as exc:
                if attempt >= REGISTRATION_ATTEMPTS:
                    raise
                wait = self.delay(attempt - 1, exc.retry_after)
                if deadline is not None and time.monotonic() + wait >= deadline:
                    raise
                self.sleep(wait)
                try:
                    node = self.client.get_number(number_id, deadline=deadline)
                except GraphAPIError:
                    raise exc from None
                if node.registered == want_registered:
                    self.say(number_id, f"{step} took effect despite the failed answer (checked by reading the number)")
                    return
                if not run.may_spend(1):
                    self.say(number_id, f"{step}: not retried: another call would pass Meta's limit of register/"
                             "deregister calls in 72 hours, which blocks the number for 72 hours")
                    raise exc from None
                self.say(number_id, f"{step}: retrying after a temporary failure "
                         f"(attempt {attempt + 1} of {REGISTRATION_ATTEMPTS})")
