"""Converges numbers: read, assess, run, read back; refuses before the first call when unsafe.

The decisions live elsewhere: what a number needs and whether it may go now in ``assessment``
(the plan, preflight, the on-delete verdict), the calls in ``runner``. This module puts them in
order and is the one place where a failed run becomes the error a person reads
(``failures.analyse``, one table) and where a failed attempt is recorded, so that a retry in the
same process neither burns the register budget blindly nor repeats a refusal a retry cannot fix.

Its process memory comes through the constructor (``memory``: the read cache, the listings and
account limits, the attempt book, the cutover gate; the notice sink; the clock): the engine adapter hands it the process's pieces,
a test or a one-off caller gets fresh ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from . import assessment, clock
from .assessment import Assessment, Context, LiveReader
from .client import GraphClient
from .declaration import Declaration
from .errors import GraphAPIError, PreflightError, ReadBackMismatch, RetryRefused
from .failures import StepFailure, analyse
from .ledger import CallLedger
from .memory import AccountLimits, AttemptBook, CutoverGate, Listings, ReadCache
from .models import LiveNumber
from .notices import Notices
from .planner import Plan
from .redact import redact
from .runner import PlanRunner

__all__ = ["Executor", "Outcome"]

OFFLINE_DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class Outcome:
    live: LiveNumber  # as read back (or as read, when nothing had to change)
    assessment: Assessment  # what the plan was assessed on, before any call
    applied_steps: list[str]
    calls: CallLedger  # the calls inside the 72-hour window, this run's included

    @property
    def plan(self) -> Plan | None:
        """None only for a Delete whose verdict, taken again under the number's lock, made no call."""
        return self.assessment.plan

    @property
    def registration_calls(self) -> list[str]:
        """As the resource's outputs keep them (ISO-8601 UTC)."""
        return self.calls.serialise()


class Executor:
    """Reads, assesses and converges numbers through one GraphClient."""

    def __init__(self, client: GraphClient, *, cache: ReadCache | None = None, gate: CutoverGate | None = None,
                 attempts: AttemptBook | None = None, notices: Notices | None = None,
                 offline_deadline: float = OFFLINE_DEADLINE_SECONDS, clock: Callable[[], datetime] = clock.now,
                 sleep: Callable[[float], None] = time.sleep, listings: Listings | None = None,
                 limits: AccountLimits | None = None) -> None:
        self.client = client
        self.config = client.config
        self.attempts = attempts if attempts is not None else AttemptBook()
        self.gate = gate if gate is not None else CutoverGate(self.attempts)
        self.notices = notices if notices is not None else Notices()
        self._clock = clock
        self.reads = LiveReader(client, target=redact(self.config.graph_api_url),
                                api=f"{self.config.graph_api_url}/{self.config.api_version}", cache=cache,
                                listings=listings, limits=limits, notices=self.notices)
        self.runner = PlanRunner(client, gate=self.gate, say=self.say, clock=clock, sleep=sleep,
                                 offline_deadline=offline_deadline, max_cutovers=self.config.max_concurrent_cutovers,
                                 delay=client.retry.delay)

    def say(self, number_id: str, text: str) -> None:
        self.notices.line(f"whatsapp {number_id}: {text}")

    def situated(self, number_id: str, context: Context) -> Context:
        """The caller's context with what this process knows now: the clock, the breaker, and what
        failed attempts for the number left (their calls count; their refusal stands)."""
        attempt = self.attempts.of(number_id)
        return replace(context, now=self._clock(), settings_flow=self.config.settings_flow,
                       breaker=self.gate.breaker, refusal=attempt.refusal, ledger=context.ledger | attempt.calls)

    def assess(self, declaration: Declaration, context: Context) -> Assessment:
        """Read the number (a read a few seconds old is reused) and assess it: what a diff asks."""
        live = self.reads.read_one(declaration.phone_number_id, waba_id=declaration.waba_id)
        return assessment.assess(declaration, live, self.situated(declaration.phone_number_id, context))

    # -- converge -------------------------------------------------------------------------------

    def converge(self, declaration: Declaration, context: Context | None = None) -> Outcome:
        """Read, assess, run, read back. Raises before any call when the assessment refuses.

        ``context``: what the caller knows (the calls in state, the policy, the stack's windows, a
        create or a delete); none: an update of a number with no state, no policy, no windows."""
        number_id = declaration.phone_number_id
        context = context or Context(now=self._clock(), settings_flow=self.config.settings_flow)
        with self.attempts.lock(number_id):
            context = self.situated(number_id, context)
            known = assessment.assess(declaration, None, context)
            if known.refusals:
                raise RetryRefused(number_id, list(known.refusals))
            live = self.reads.read_one(number_id, waba_id=declaration.waba_id)
            found = assessment.assess(declaration, live, context)
            if found.delete is not None and found.delete.message:  # another resource converged it meanwhile
                self.notices.line(found.delete.message)
            if found.plan is None or found.plan.in_sync:
                return Outcome(live, found, [], found.kept_calls)
            if found.problems:
                raise PreflightError(number_id, list(found.problems))
            try:
                run = self.runner.run(found.plan, found.desired, live, budget=found.budget_left)
            finally:
                self.reads.forget(number_id)
            if run.refusal:
                raise PreflightError(number_id, [run.refusal])
            previous, desired = live.region, declaration.region
            if run.failure:
                error = analyse(number_id, run.failure, self, previous=previous, desired=desired,
                                registration_calls=run.registration_calls)
                self.attempts.record_failure(number_id, run.calls, error.retry_refusal)
                raise error
            try:
                after = self.reads.read_one(number_id, reuse=False)
            except GraphAPIError as exc:
                self.attempts.record_failure(number_id, run.calls, None)
                raise analyse(number_id, StepFailure("readback", exc), self, previous=previous, desired=desired,
                              registration_calls=run.registration_calls, ran=run.applied) from exc
            if not assessment.assess(declaration, after, context).in_sync:
                # Every call succeeded, yet the number is not as declared: say so, never report success.
                error = analyse(number_id, StepFailure("readback", ReadBackMismatch(
                    registered=after.registered, storage=after.region)), self, previous=previous,
                    desired=desired, registration_calls=run.registration_calls, ran=run.applied)
                self.attempts.record_failure(number_id, run.calls, error.retry_refusal)
                raise error
            return Outcome(after, found, run.applied, found.kept_calls + run.calls)

    # -- failures.Reader: the reads a failure's table row asks for (deadline: 5 s each) -----------

    def registered_now(self, number_id: str) -> bool | None:
        try:
            return self.client.get_number(number_id, deadline=time.monotonic() + 5).registered
        except GraphAPIError:
            return None

    def storage_now(self, number_id: str) -> str | None:
        return self.client.get_storage(number_id, deadline=time.monotonic() + 5).region
