"""Reads, plans and converges numbers; refuses before the first call when it cannot be safe.

The decisions live elsewhere: the plan in ``planner``, the safety rules in ``safety`` (pure),
the shared per-process state in ``fleet``, the calls in ``runner``. This module puts them in
order (read live -> plan -> preflight -> run -> read back) and is the one place where a failed
run becomes the error a person reads (``failures.analyse``, one table) and where a failed
attempt is recorded so that a retry in the same process neither burns the register budget
blindly nor repeats a refusal that a retry cannot fix.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, TextIO

from . import escape, planner
from .client import GraphClient
from .config import ProviderConfig
from .errors import GraphAPIError, PreflightError, ReadBackMismatch, RetryRefused
from .failures import StepFailure, analyse
from .fleet import current
from .models import LiveNumber
from .planner import Plan
from .runner import PlanRunner
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
    def for_config(cls, config: ProviderConfig) -> "Executor":
        """One executor (and so one connection pool) per configuration in this process."""
        executor = current().executor_for(config, lambda: cls(GraphClient(config)))
        assert isinstance(executor, Executor)
        return executor

    def say(self, number_id: str, text: str) -> None:
        print(escape.log(f"whatsapp {number_id}: {text}"), file=self._out or sys.stderr, flush=True)

    # -- reads and plans ------------------------------------------------------------------------

    def _cache_key(self, number_id: str) -> tuple[str, str]:
        return (f"{self.config.graph_api_url}/{self.config.api_version}", number_id)

    def read(self, number_id: str, *, reuse: bool = True) -> LiveNumber:
        """The live number; a read made less than a few seconds ago in this process is reused."""
        key = self._cache_key(number_id)
        cached = current().cached_read(key) if reuse else None
        if isinstance(cached, LiveNumber):
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

    def converge(self, number_id: str, desired: Desired, *, prior_calls: Iterable[object] | None = (),
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
            kept = [format_time(t) for t in recent_calls([*(prior_calls or ()), *earlier.registration_calls], now)]
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
                error = analyse(number_id, run.failure, self, previous=live.region, desired=desired.region,
                                registration_calls=run.registration_calls)
                fleet.record_failure(number_id, run.registration_calls, error.retry_refusal)
                raise error
            try:
                after = self.read(number_id, reuse=False)
            except GraphAPIError as exc:
                fleet.record_failure(number_id, run.registration_calls, None)
                raise analyse(number_id, StepFailure("readback", exc), self, previous=live.region,
                              desired=desired.region, registration_calls=run.registration_calls,
                              ran=run.applied) from exc
            if not self.plan_for(number_id, after, desired).in_sync:
                # Every call succeeded, yet the number is not as declared: say so, never report success.
                error = analyse(number_id, StepFailure("readback", ReadBackMismatch(
                    registered=after.registered, storage=after.region)), self, previous=live.region,
                    desired=desired.region, registration_calls=run.registration_calls, ran=run.applied)
                fleet.record_failure(number_id, run.registration_calls, error.retry_refusal)
                raise error
            return Outcome(after, plan, run.applied, kept + run.registration_calls)

    # -- failures.Reader: the reads a failure's table row asks for (deadline: 5 s each) -----------

    def registered_now(self, number_id: str) -> bool | None:
        try:
            return self.client.get_number(number_id, deadline=time.monotonic() + 5).registered
        except GraphAPIError:
            return None

    def storage_now(self, number_id: str) -> str | None:
        return self.client.get_storage(number_id, deadline=time.monotonic() + 5).region
