"""Reads, plans and converges numbers; refuses before the first call when it cannot be safe.

The decisions live elsewhere: the plan in ``planner``, the safety rules in ``safety`` (pure),
the shared per-process state in ``fleet``, the calls in ``runner``. This module puts them in
order (read live -> plan -> preflight -> run -> read back) and is the one place where a failed
run becomes the error a person reads (``ConvergeFailed``, built from data) and where a failed
attempt is recorded so that a retry in the same process neither burns the register budget
blindly nor repeats a refusal that a retry cannot fix.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, TextIO

from . import planner
from .client import GraphClient
from .errors import GraphAPIError, PreflightError, RetryRefused, TransientError
from .failures import ConvergeFailed
from .fleet import current
from .models import LiveNumber
from .planner import Plan
from .runner import Failure, PlanRunner, Run
from .safety import (
    REGISTER_BUDGET,
    Desired,
    format_time,
    preflight,
    recent_calls,
    retry_problem,
    utcnow,
)

__all__ = ["Executor", "Outcome"]

OFFLINE_DEADLINE_SECONDS = 60.0


@dataclass
class Outcome:
    live: LiveNumber
    plan: Plan
    applied_steps: list[str]
    registration_calls: list[str]  # ISO-8601 UTC timestamps, as in the resource's outputs


class Executor:
    """Reads, plans and converges numbers through one GraphClient."""

    def __init__(self, client: GraphClient, *, offline_deadline: float = OFFLINE_DEADLINE_SECONDS,
                 out: TextIO | None = None, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.config = client.config
        self._out = out
        self._clock = clock
        self.runner = PlanRunner(client, say=self.say, clock=clock, sleep=sleep, offline_deadline=offline_deadline)

    @classmethod
    def for_config(cls, config) -> "Executor":
        """One executor (and so one connection pool) per configuration in this process."""
        return current().executor_for(config, lambda: cls(GraphClient(config)))

    def say(self, number_id: str, text: str) -> None:
        print(f"whatsapp {number_id}: {text}", file=self._out or sys.stderr, flush=True)

    # -- reads and plans ------------------------------------------------------------------------

    def _cache_key(self, number_id: str) -> tuple[str, str]:
        return (f"{self.config.graph_api_url}/{self.config.api_version}", number_id)

    def read(self, number_id: str, *, reuse: bool = True) -> LiveNumber:
        """The live number; a read made less than a few seconds ago in this process is reused."""
        key = self._cache_key(number_id)
        cached = current().cached_read(key) if reuse else None
        if cached is not None:
            return cached
        live = self.client.read(number_id)
        current().remember_read(key, live)
        return live

    def forget(self, number_id: str) -> None:
        current().forget_read(self._cache_key(number_id))

    def plan_for(self, number_id: str, live: LiveNumber, desired: Desired) -> Plan:
        return planner.plan(number_id, planner.LiveState(live.registered, live.region), desired.region,
                            settings_flow=self.config.settings_flow, enforce_pin=desired.enforce_pin)

    # -- converge -------------------------------------------------------------------------------

    def converge(self, number_id: str, desired: Desired, *, prior_calls: Iterable[object] = (),
                 creating: bool = False, allow_cutover: bool = False,
                 allowed_regions: frozenset[str] | None = None) -> Outcome:
        """Read, plan, preflight, run, read back. Raises before any call when unsafe.

        ``prior_calls`` are the register/deregister timestamps in state; calls that failed
        attempts for the number made earlier in this process count too (state never saw them).
        """
        fleet = current()
        with fleet.number_lock(number_id):
            earlier = fleet.attempts(number_id)
            if earlier.refusal:
                raise RetryRefused(number_id, [retry_problem(earlier.refusal)])
            live = self.read(number_id)
            plan = self.plan_for(number_id, live, desired)
            now = self._clock()
            kept = [format_time(t) for t in recent_calls([*(prior_calls or ()), *earlier.calls], now)]
            if plan.in_sync:
                return Outcome(live, plan, [], kept)
            problems = preflight(plan, live, desired, prior_calls=recent_calls(kept, now), now=now,
                                 breaker=fleet.breaker, allowed_regions=allowed_regions, creating=creating,
                                 allow_cutover=allow_cutover)
            if problems:
                raise PreflightError(number_id, problems)
            try:
                run = self.runner.run(plan, desired, live, budget=REGISTER_BUDGET - len(recent_calls(kept, now)))
            finally:
                self.forget(number_id)
            if run.refusal:
                raise PreflightError(number_id, [run.refusal])
            if run.failure:
                error = self._failed(plan, desired, live, run, run.failure)
                refusal = (f"{error.step} failed ({getattr(error.cause, 'reference', '')}). Do NOT re-run "
                           f"automatically: {error.do_not_rerun}") if error.do_not_rerun else None
                fleet.record_failure(number_id, run.calls, refusal)
                raise error
            try:
                after = self.read(number_id, reuse=False)
            except GraphAPIError as exc:
                fleet.record_failure(number_id, run.calls, None)
                raise ConvergeFailed(number_id, step="readback", cause=exc, offline=False, calls=run.calls,
                                     ran=run.applied, desired=desired.region) from exc
            return Outcome(after, plan, run.applied, kept + run.calls)

    def _failed(self, plan: Plan, desired: Desired, live: LiveNumber, run: Run, failure: Failure) -> ConvergeFailed:
        """The one place a failed run becomes an error. It reads the number where the message
        must say where it was left (outside the cutover slot: the breaker is already open)."""
        common = dict(step=failure.step, cause=failure.cause, calls=run.calls, desired=desired.region,
                      previous=live.region, recovery_step=failure.recovery_step,
                      recovery_cause=failure.recovery_cause)
        number_id = plan.number_id
        if failure.step == "set_pin":
            return ConvergeFailed(number_id, offline=False, storage=live.region, **common)
        if failure.step == "deregister":
            still: bool | None = True
            if isinstance(failure.cause, TransientError):  # the last attempt's outcome is unknown: look
                still = self._registered_now(number_id)
            return ConvergeFailed(number_id, offline=still is not True, storage=live.region,
                                  storage_read=still is not None, **common)
        if failure.step == "settings" and failure.recovery_step != "register":
            return ConvergeFailed(number_id, offline=not failure.restored, restored=failure.restored,
                                  storage=live.region, storage_read=failure.recovery_step is None, **common)
        last_set = live.region if failure.step == "settings" else (plan.calls[-1].region or desired.region)
        storage, storage_read = self._storage_now(number_id, last_set)
        return ConvergeFailed(number_id, offline=True, storage=storage, storage_read=storage_read, **common)

    def _registered_now(self, number_id: str) -> bool | None:
        try:
            return self.client.get_number(number_id, deadline=time.monotonic() + 5).registered
        except GraphAPIError:
            return None

    def _storage_now(self, number_id: str, last_set: str | None) -> tuple[str | None, bool]:
        try:
            return self.client.get_storage(number_id, deadline=time.monotonic() + 5).region, True
        except GraphAPIError:
            return last_set, False

