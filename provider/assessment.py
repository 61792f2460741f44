"""One read, one assessment: everything a caller needs to know about a number before any call.

octoDNS's ``Manager.sync`` plans every zone through the providers' one ``plan()``, and its CLI
and its apply never recompute a plan. Here the same: the adapter's diff, create, update and
delete (through ``executor``), the CLI's ``plan``, ``drift`` and ``report`` (``cli/report.py``) and
``import`` (``onboard/proposal.py``) all ask ``assess``, so that what a reviewer reads and what
``pulumi up`` does cannot differ. ``planner.plan`` and ``safety.preflight`` are called here only,
and the on-delete verdict is decided here only (with ``lifecycle.on_delete``'s rule).

- ``assess(declaration, live, context)`` (pure): the plan, every preflight problem (and which of
  them only wait, with the instant they clear), the window state, the budget, the on-delete
  verdict, the live policy verdict. ``live`` may be None: what is known before reading (a retry
  that must be refused, a Delete that makes no call), so that a caller reads only when it must.
- ``LiveReader.read_live(wanted)`` (I/O, ``reads``): the one door for the reads assessing needs,
  for many numbers at once (the CLI) or one (the adapter, with the process's memory), with the
  fewest calls: a number whose business account is known takes its node from the account's
  listing and is read for its storage only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from . import lifecycle, planner, schedule
from .compliance import Violation, verdict
from .declaration import Declaration
from .ledger import CallLedger
from .lifecycle import DeleteVerdict
from .models import LiveNumber
from .planner import Plan
from .reads import LiveRead, LiveReader, Wanted
from .regions import describe
from .safety import Desired, Problem, create_cutover_problem, preflight, retry_problem
from .schedule import Blackouts, Gate, Windows, WindowState

__all__ = ["Assessment", "Context", "DeleteFacts", "LiveRead", "LiveReader", "Wanted", "assess"]


# -- the context: what a decision depends on besides the declaration and the live number -------------


@dataclass(frozen=True)
class DeleteFacts:
    """What a Delete's verdict needs besides the stored declaration."""

    stack_numbers: frozenset[str] | None  # the numbers the stack's phoneNumbers lists (None: no such key)
    wanted_here: bool  # a resource of this process declared or converged the number
    stored_region: str | None = None  # the live region state recorded, for the no-call message
    consented: bool = False  # WHATSAPP_DISABLE_ON_DELETE names the number (the person running the command)


@dataclass(frozen=True)
class Context:
    """Everything else a verdict depends on, given by the caller (nothing is read here)."""

    now: datetime
    settings_flow: bool = True  # the flow of the API version Meta serves (the executor sets its own)
    ledger: CallLedger = CallLedger()  # the number's register/deregister calls (state, entries, attempts)
    allowed_regions: frozenset[str] | None = None
    stack_windows: object = None  # the stack's cutoverWindows as configured, for a number without its own
    stack_blackouts: object = None  # the stack's cutoverBlackouts as configured (they add to a number's own)
    breaker: str | None = None  # the process's circuit breaker (None: closed, or no process)
    creating: bool | None = False  # a create; None: not known (the CLI without a state file)
    refusal: str | None = None  # an earlier attempt in this process failed so that a retry must be refused
    deleting: DeleteFacts | None = None  # a Delete (of a resource whose declaration this is)


# -- the assessment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What ``assess`` found for one number."""

    declaration: Declaration
    desired: Desired  # the declaration with the windows that apply to it
    live: LiveNumber | None  # None: not read (yet)
    plan: Plan | None
    problems: tuple[Problem, ...]  # every reason the plan must not start now
    window: WindowState | None  # where the clock stands in the number's windows (None: no windows)
    kept_calls: CallLedger  # the calls still inside Meta's 72-hour window
    budget_left: int
    delete: DeleteVerdict | None = None  # for a Delete: may it disable the number?
    if_created: Problem | None = None  # creating not known: the create gate's refusal, should it be a create
    live_violation: Violation | None = None  # live storage outside allowedRegions
    gate: Gate | None = None  # may a cutover start now (None: no windows and no blackouts, any time)

    @property
    def number_id(self) -> str:
        return self.declaration.phone_number_id

    @property
    def windows(self) -> Windows | None:
        return self.desired.windows

    @property
    def blackouts(self) -> Blackouts | None:
        return self.desired.blackouts

    @property
    def budget_used(self) -> int:
        return len(self.kept_calls)

    @property
    def no_call(self) -> bool:
        """A Delete whose verdict makes no call: nothing to read or run."""
        return self.delete is not None and not self.delete.disable

    @property
    def needs_read(self) -> bool:
        """Not read yet, and reading could lead to a call."""
        return self.live is None and not self.no_call and not self.refusals

    @property
    def in_sync(self) -> bool:
        return self.plan is not None and self.plan.in_sync

    @property
    def waits(self) -> tuple[Problem, ...]:
        """Problems that clear by themselves (a window opens, budget frees)."""
        return tuple(p for p in self.problems if p.waits)

    @property
    def refusals(self) -> tuple[Problem, ...]:
        """Problems that need a person (or a new process) before the plan may start."""
        return tuple(p for p in self.problems if not p.waits)

    @property
    def clears_at(self) -> datetime | None:
        """When every problem is one that waits: the instant the last of them clears."""
        if not self.problems or self.refusals:
            return None
        return max(p.clears_at for p in self.problems if p.clears_at is not None)

    @property
    def may_run_now(self) -> bool:
        """``pulumi up`` would run this number's step now (a no-call step included)."""
        return not self.needs_read and not self.problems


def assess(declaration: Declaration, live: LiveNumber | None, context: Context) -> Assessment:
    """Plan and preflight the number exactly as ``pulumi up`` would, from what is known."""
    number_id = declaration.phone_number_id
    delete = _delete_verdict(declaration, context)
    kept = context.ledger.recent(context.now)
    if delete is not None and not delete.disable:  # no call: nothing else applies (not even the windows)
        return Assessment(declaration, Desired.of(declaration, None), live, None, (), None, kept,
                          context.ledger.left(context.now), delete=delete)
    windows = schedule.effective(declaration.cutover_windows, context.stack_windows, today=context.now.date())
    blackouts = schedule.effective_blackouts(declaration.cutover_blackouts, context.stack_blackouts)
    desired = Desired.of(declaration, windows, blackouts)
    gate = None if windows is None and not blackouts else schedule.gate_at(windows, blackouts, context.now)
    known = Assessment(declaration, desired, live, None, (), schedule.where(windows, context.now), kept,
                       context.ledger.left(context.now), delete=delete, gate=gate)
    retry = () if context.refusal is None else (retry_problem(context.refusal),)
    if live is None:
        return replace(known, problems=retry)
    plan = planner.plan(number_id, planner.LiveState(live.registered, live.region), declaration.region,
                        settings_flow=context.settings_flow, enforce_pin=declaration.enforce_pin)
    problems = preflight(plan, live, desired, prior_calls=kept, now=context.now, breaker=context.breaker,
                         allowed_regions=context.allowed_regions, creating=context.creating is True,
                         allow_cutover=declaration.allow_cutover_on_create)
    if not plan.in_sync:  # an in-sync number has nothing to refuse (no call is made)
        problems = [*retry, *problems]
    unknown_gate = context.creating is None and not declaration.allow_cutover_on_create
    return replace(known, plan=plan, problems=tuple(problems),
                   if_created=create_cutover_problem(plan, live, declaration.region) if unknown_gate else None,
                   live_violation=verdict(context.allowed_regions, live.region))


def _delete_verdict(declaration: Declaration, context: Context) -> DeleteVerdict | None:
    facts = context.deleting
    if facts is None:
        return None
    return lifecycle.on_delete(declaration.phone_number_id, declaration.on_delete, facts.stack_numbers,
                               facts.wanted_here, describe(facts.stored_region), facts.consented)
