"""Runs plans against the Graph API, and refuses before the first call when it cannot be safe.

Owns the rules that protect a fleet inside one provider process (one Pulumi command):

- preflight: every check of SPEC.md runs before the first mutating call;
- at most ``maxConcurrentCutovers`` numbers offline at once, whatever Pulumi's --parallel;
- a circuit breaker: after one cutover fails, no other number is deregistered in this process;
- a deadline on the time a number is offline: retries stop there (Pulumi's Cancel and
  customTimeouts never reach a dynamic provider);
- recovery: a failed ``settings`` after ``deregister`` restores the storage the number had and
  registers it again; a failed ``register`` says the number is offline and what to fix;
- calls for one number are serialised, and a read may be reused for a few seconds by the next
  operation on the same number (any mutating call invalidates it).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, TextIO

from . import planner
from .client import GraphClient
from .errors import (
    ConvergeFailed,
    DeregistrationIncomplete,
    GraphAPIError,
    PIN_AND_LOCKOUT_CODES,
    PreflightError,
    TransientError,
)
from .models import LiveNumber
from .planner import Plan, Step
from .regions import describe
from .safety import Desired, Problem, breaker_problem, create_cutover_problem, format_time, preflight, recent_calls, utcnow

OFFLINE_DEADLINE_SECONDS = 60.0
READ_REUSE_SECONDS = 5.0
REGISTRATION_ATTEMPTS = 3


@dataclass
class Outcome:
    live: LiveNumber
    plan: Plan
    applied_steps: list[str]
    registration_calls: list[str]


class _ProcessState:
    """Fleet-wide safety state of one provider process. Module-level: the provider holds no attributes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.number_locks: dict[str, threading.Lock] = {}
        self.reads: dict[tuple[str, str], tuple[float, LiveNumber]] = {}
        self.breaker: str | None = None
        self.cutover_slots: threading.BoundedSemaphore | None = None
        self.cutover_size = 0
        self.existing: set[str] = set()  # numbers of resources already in state (seen in diff/update)
        self.created: set[str] = set()   # numbers a create in this command claimed
        self.executors: dict[tuple, "Executor"] = {}


_state = _ProcessState()


def reset_process_state() -> None:
    """Forget everything (tests that run several 'Pulumi commands' in one process)."""
    global _state
    for executor in list(_state.executors.values()):
        executor.client.close()
    _state = _ProcessState()


def _do_not_rerun(*causes: BaseException) -> str:
    """The warning every error after a PIN or lockout refusal carries (SPEC.md, "Failures")."""
    codes = {getattr(cause, "code", None) for cause in causes}
    if not codes & PIN_AND_LOCKOUT_CODES:
        return ""
    if 133016 in codes:
        why = ("Meta has blocked register and deregister for this number for 72 hours, and an attempt "
               "cannot shorten that")
    else:
        why = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks the "
               "number for 72 hours after 10 calls")
    return f" Do NOT re-run automatically: {why}."


class Executor:
    """Reads, plans and converges numbers through one GraphClient."""

    def __init__(self, client: GraphClient, *, offline_deadline: float = OFFLINE_DEADLINE_SECONDS,
                 out: TextIO | None = None, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.config = client.config
        self.offline_deadline = offline_deadline
        self._out = out
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def for_config(cls, config) -> "Executor":
        """One executor (and so one connection pool) per configuration in this process."""
        key = (config.graph_api_url, config.api_version, config.access_token, config.max_concurrent_cutovers)
        with _state.lock:
            executor = _state.executors.get(key)
            if executor is None:
                executor = _state.executors[key] = cls(GraphClient(config))
            return executor

    # -- output -------------------------------------------------------------------------------

    def say(self, number_id: str, text: str) -> None:
        print(f"whatsapp {number_id}: {text}", file=self._out or sys.stderr, flush=True)

    # -- reads --------------------------------------------------------------------------------

    def _cache_key(self, number_id: str) -> tuple[str, str]:
        return (f"{self.config.graph_api_url}/{self.config.api_version}", number_id)

    def read(self, number_id: str, *, reuse: bool = True) -> LiveNumber:
        """The live number; a read made less than READ_REUSE_SECONDS ago is reused."""
        key = self._cache_key(number_id)
        if reuse:
            cached = _state.reads.get(key)
            if cached and time.monotonic() - cached[0] < READ_REUSE_SECONDS:
                return cached[1]
        live = self.client.read(number_id)
        _state.reads[key] = (time.monotonic(), live)
        return live

    def forget(self, number_id: str) -> None:
        _state.reads.pop(self._cache_key(number_id), None)

    def plan_for(self, number_id: str, live: LiveNumber, desired: Desired) -> Plan:
        return planner.plan(
            number_id,
            planner.LiveState(live.registered, live.region),
            desired.region,
            settings_flow=self.config.settings_flow,
            enforce_pin=desired.enforce_pin,
        )

    def preflight(self, plan: Plan, live: LiveNumber, desired: Desired, prior_calls: Iterable[object]) -> list[Problem]:
        now = self._clock()
        return preflight(plan, live, desired, prior_calls=recent_calls(prior_calls, now),
                         now=now, breaker=_state.breaker)

    # -- claims -------------------------------------------------------------------------------

    @staticmethod
    def claim(number_id: str, *, new: bool) -> None:
        """Only one resource may manage a number in a Pulumi command.

        A resource already in state claims its number in diff and update (the same resource does
        both); a create claims it as new. A create for a number another resource manages, or any
        second claim after a create, means two resources declare it: refused before any call.
        """
        with _state.lock:
            if number_id in _state.created or (new and number_id in _state.existing):
                raise PreflightError(number_id, [
                    "two resources in this stack declare the same phone number; keep exactly one "
                    "(each number must have one declared region)"
                ])
            (_state.created if new else _state.existing).add(number_id)

    @staticmethod
    def claimed(number_id: str) -> bool:
        return number_id in _state.created or number_id in _state.existing

    # -- converge -----------------------------------------------------------------------------

    def _number_lock(self, number_id: str) -> threading.Lock:
        with _state.lock:
            return _state.number_locks.setdefault(number_id, threading.Lock())

    def converge(self, number_id: str, desired: Desired, *, prior_calls: Iterable[object] = (),
                 creating: bool = False, allow_cutover: bool = False) -> Outcome:
        """Read, plan, preflight, run, read back. Raises before any call when unsafe."""
        with self._number_lock(number_id):
            live = self.read(number_id)
            plan = self.plan_for(number_id, live, desired)
            now = self._clock()
            kept = [format_time(t) for t in recent_calls(prior_calls, now)]
            if plan.in_sync:
                return Outcome(live, plan, [], kept)
            problems = self.preflight(plan, live, desired, prior_calls)
            refusal = create_cutover_problem(plan, live, desired.region) if creating and not allow_cutover else None
            if refusal:
                problems.insert(0, refusal)
            if problems:
                raise PreflightError(number_id, problems)
            made: list[str] = []
            try:
                applied = self._run(plan, live, desired, made)
            finally:
                self.forget(number_id)
            try:
                after = self.read(number_id, reuse=False)
            except GraphAPIError as exc:
                # the plan ran: the user must not take this for a failed (or offline) change
                raise ConvergeFailed(
                    f"whatsapp {number_id}: the plan ran ({' -> '.join(applied)}), so the number should now "
                    f"be registered with storage {describe(desired.region)}, but reading it back failed: {exc}. "
                    "Fix the cause, then run `pulumi refresh` to record its live state.",
                    cause=exc, offline=False, registration_calls=len(made)) from exc
            return Outcome(after, plan, applied, kept + made)

    def _run(self, plan: Plan, live: LiveNumber, desired: Desired, made: list[str]) -> list[str]:
        number_id = plan.number_id
        if not plan.deregisters:
            return self._steps(plan, live, desired, made, deadline=None)
        slots = self._cutover_slots()
        if not slots.acquire(blocking=False):
            self.say(number_id, f"waiting for a cutover slot (maxConcurrentCutovers={self.config.max_concurrent_cutovers})")
            slots.acquire()
        try:
            if _state.breaker:
                raise PreflightError(number_id, [breaker_problem(_state.breaker)])
            try:
                return self._steps(plan, live, desired, made, deadline=None)
            except BaseException as exc:
                self._trip_breaker(number_id, exc)
                raise
        finally:
            slots.release()

    def _cutover_slots(self) -> threading.BoundedSemaphore:
        with _state.lock:
            size = self.config.max_concurrent_cutovers
            if _state.cutover_slots is None or _state.cutover_size != size:
                _state.cutover_slots = threading.BoundedSemaphore(size)
                _state.cutover_size = size
            return _state.cutover_slots

    def _steps(self, plan: Plan, live: LiveNumber, desired: Desired, made: list[str],
               deadline: float | None) -> list[str]:
        number_id = plan.number_id
        applied: list[str] = []
        deregistered = False
        for call in plan.calls:
            if call.step is Step.SET_PIN:
                self._timed(number_id, "set_pin", lambda: self.client.set_pin(number_id, desired.pin or ""))
            elif call.step is Step.DEREGISTER:
                try:
                    self._registration_call(number_id, "deregister", made, deadline=None)
                except GraphAPIError as exc:
                    self._trip_breaker(number_id, exc)
                    raise self._deregister_error(plan, live, exc, made) from exc
                deregistered = True
                deadline = time.monotonic() + self.offline_deadline
            elif call.step is Step.SETTINGS:
                try:
                    self._timed(number_id, f"settings({call.region})",
                                lambda: self.client.set_storage(number_id, call.region or "", deadline=deadline))
                except GraphAPIError as exc:
                    if deregistered:
                        self._trip_breaker(number_id, exc)
                        self._restore_after_settings_failure(plan, live, desired, made, exc, applied)
                    raise ConvergeFailed(
                        f"whatsapp {number_id}: settings failed: {exc}. The number was not registered "
                        f"before this run and still is not; its storage is unchanged "
                        f"({describe(live.region)}).{_do_not_rerun(exc)} Fix the cause and re-run.",
                        cause=exc, offline=True, registration_calls=len(made)) from exc
            elif call.step is Step.REGISTER:
                try:
                    self._registration_call(number_id, "register", made, deadline=deadline,
                                            pin=desired.pin or "", region=None if plan.settings_flow else call.region)
                except GraphAPIError as exc:
                    if plan.deregisters:
                        self._trip_breaker(number_id, exc)
                    raise self._offline_error(plan, exc, made, storage_hint=call.region or desired.region) from exc
            applied.append(call.step.value)
        return applied

    @staticmethod
    def _trip_breaker(number_id: str, exc: BaseException) -> None:
        """A cutover step failed: trip the breaker now, before recovering or reporting (which take
        time), so that no slot freed meanwhile lets another number go offline."""
        with _state.lock:
            _state.breaker = _state.breaker or f"{number_id}: {type(exc).__name__}"

    def _timed(self, number_id: str, label: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            action()
        except GraphAPIError as exc:
            self.say(number_id, f"{label} failed after {time.monotonic() - started:.2f} s: {exc.summary}"
                     + (f" ({exc.reference})" if exc.reference else ""))
            raise
        self.say(number_id, f"{label} ok ({time.monotonic() - started:.2f} s)")

    def _registration_call(self, number_id: str, step: str, made: list[str], *, deadline: float | None,
                           pin: str = "", region: str | None = None) -> None:
        """Register or deregister, never retried blindly.

        After a transient failure or an ambiguous timeout the number is read: if the call took
        effect it is done; otherwise it is sent again, at most REGISTRATION_ATTEMPTS times in all
        and never past the offline deadline. 133000 on register means deregister once more first.
        """
        want_registered = step == "register"
        redo_deregister = False
        attempt = 0
        while True:
            attempt += 1
            made.append(format_time(self._clock()))
            try:
                if step == "register":
                    self._timed(number_id, step, lambda: self.client.register(number_id, pin, region=region, deadline=deadline))
                else:
                    self._timed(number_id, step, lambda: self.client.deregister(number_id, deadline=deadline))
                return
            except DeregistrationIncomplete:
                if not want_registered or redo_deregister:
                    raise
                redo_deregister = True
                self.say(number_id, "Meta says the previous deregistration is incomplete: deregistering again")
                made.append(format_time(self._clock()))
                self._timed(number_id, "deregister", lambda: self.client.deregister(number_id, deadline=deadline))
                attempt -= 1
                continue
            except TransientError as exc:
                if attempt >= REGISTRATION_ATTEMPTS:
                    raise
                wait = self.client.retry.delay(attempt - 1, exc.retry_after)
                if deadline is not None and time.monotonic() + wait >= deadline:
                    raise
                self._sleep(wait)
                try:
                    node = self.client.get_number(number_id, deadline=deadline)
                except GraphAPIError:
                    raise exc from None
                if node.registered == want_registered:
                    self.say(number_id, f"{step} took effect despite the failed answer (checked by reading the number)")
                    return
                self.say(number_id, f"{step}: retrying after a temporary failure (attempt {attempt + 1} of {REGISTRATION_ATTEMPTS})")

    def _restore_after_settings_failure(self, plan: Plan, live: LiveNumber, desired: Desired, made: list[str],
                                        cause: GraphAPIError, applied: list[str]) -> None:
        """Put back the storage that was serving traffic, register, then raise what happened."""
        number_id = plan.number_id
        previous = live.region or ""
        deadline = time.monotonic() + self.offline_deadline
        self.say(number_id, f"settings failed after deregister; restoring storage {describe(live.region)} and registering again")
        try:
            self._timed(number_id, f"settings({previous}) [restore]",
                        lambda: self.client.set_storage(number_id, previous, deadline=deadline))
        except GraphAPIError as exc:
            raise ConvergeFailed(
                f"whatsapp {number_id}: settings({desired.region}) failed after deregister ({cause}), and "
                f"restoring the previous storage {describe(live.region)} also failed ({exc}). The number is "
                "NOT registered: it was left offline rather than registered with storage nobody declared."
                f"{_do_not_rerun(cause, exc)} Fix the cause, then re-run `pulumi up`, which resumes from the "
                f"live state. This run made {len(made)} register/deregister calls.",
                cause=cause, offline=True, registration_calls=len(made)) from cause
        try:
            self._registration_call(number_id, "register", made, deadline=deadline, pin=desired.pin or "")
        except GraphAPIError as exc:
            raise self._offline_error(plan, exc, made, storage_hint=previous,
                                      context=f"settings({desired.region}) failed ({cause}); ") from cause
        raise ConvergeFailed(
            f"whatsapp {number_id}: settings({desired.region}) failed after deregister: {cause}. The number "
            f"was restored to its previous storage {describe(live.region)} and registered again, so it "
            f"serves traffic as before this run. Nothing else changed. This run made {len(made)} "
            f"register/deregister calls.{_do_not_rerun(cause)} Fix the cause and re-run `pulumi up`.",
            cause=cause, offline=False, registration_calls=len(made))

    def _deregister_error(self, plan: Plan, live: LiveNumber, cause: GraphAPIError,
                          made: list[str]) -> ConvergeFailed:
        """Deregister failed: say whether the number still serves traffic (a refusal changed nothing)."""
        number_id = plan.number_id
        still: bool | None = True
        if isinstance(cause, TransientError):  # the last attempt's outcome is unknown: look
            try:
                still = self.client.get_number(number_id, deadline=time.monotonic() + 5).registered
            except GraphAPIError:
                still = None
        if still is None:
            state = "Reading it back failed too, so it may be offline: check it in WhatsApp Manager."
        elif still:
            state = (f"The number is still registered and serving traffic with storage {describe(live.region)}; "
                     "nothing was changed.")
        else:
            state = ("The number is NOT registered (offline: it cannot send or receive messages). Re-running "
                     "`pulumi up` registers it again.")
        return ConvergeFailed(
            f"whatsapp {number_id}: deregister failed: {cause}. {state}{_do_not_rerun(cause)} Once the cause "
            "is fixed, re-running `pulumi up` resumes from the live state.",
            cause=cause, offline=still is not True, registration_calls=len(made))

    def _offline_error(self, plan: Plan, cause: GraphAPIError, made: list[str], *, storage_hint: str | None,
                       context: str = "") -> ConvergeFailed:
        number_id = plan.number_id
        storage = describe(storage_hint)
        try:
            storage = describe(self.client.get_storage(number_id, deadline=time.monotonic() + 5).region)
        except GraphAPIError:
            storage += " (as last set; could not read it back)"
        stop = _do_not_rerun(cause)
        fix = f" Fix: {cause.fix}." if cause.fix and cause.fix not in str(cause) else ""
        return ConvergeFailed(
            f"whatsapp {number_id}: {context}register failed: the number is NOT registered (offline: it "
            f"cannot send or receive messages). Current storage: {storage}. Cause: {cause}.{fix}{stop} "
            f"This run made {len(made)} register/deregister calls; Pulumi keeps no outputs from a failed "
            "run, so count them against the budget yourself. Once the cause is fixed, re-running `pulumi up` "
            "resumes from the live state.",
            cause=cause, offline=True, registration_calls=len(made))
