"""The pure safety rules: may this plan start, and if not, why. No I/O, no clocks of their own.

Each rule returns typed ``Problem`` values instead of prose, so the provider, the CLI and the
tests branch on ``Problem.rule`` and only renderers turn problems into text. Every problem a plan
has is reported at once (octoDNS's ``raise_if_unsafe`` stops at the first; a person fixing a
stack wants them all). A problem that only waits (outside a change window, past the register
budget) carries the instant it clears (``Problem.clears_at``); every other one needs a person.
``preflight`` is called by ``assessment`` only, which every caller asks.

The rules (docs/contract.md, "Preflight", and "Behaviour" for create):

- unmanaged storage: No Storage and unknown states are never changed;
- PIN present and 6 digits when the plan registers;
- verified when the plan registers;
- not shared with the WhatsApp Business app when the plan deregisters;
- the 72-hour register budget (10 register/deregister calls per number);
- the circuit breaker of the provider process;
- the compliance policy (``allowedRegions``) for the storage the plan sets;
- the create-cutover gate: a create never cuts a registered number over;
- no blind retries: after an attempt failed in a way another attempt cannot fix, the process
  refuses further attempts for that number (``retry_problem``);
- change windows and blackouts: a plan that deregisters starts only when the gate is open
  (``window_problem`` asks ``gate.gate``: inside a window and outside every blackout; checked
  again when the cutover really starts, after its slot). Waiting for a window or for a blackout's
  end clears by itself; windows that are an empty list mean never, a refusal that never clears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Mapping

from . import compliance, schedule
from .declaration import INPUT_KEYS, STACK_SPELLING, Declaration
from .inputs import is_pin
from .ledger import REGISTER_BUDGET, CallLedger, format_instant
from .ledger import format_instant as format_time, parse_times  # noqa: F401 - the CLI's renderers import them here
from .models import LiveNumber
from .planner import Plan
from .regions import describe
from .schedule import Blackouts, Gate, Windows

__all__ = ["Desired", "Problem", "Rule", "REGISTER_BUDGET", "STACK_SPELLING", "breaker_problem",
           "create_cutover_problem", "format_time", "parse_times", "gate_problem", "policy_problem", "preflight",
           "retry_problem", "window_problem"]


@dataclass(frozen=True)
class Desired:
    """What a converge aims at: the declared region and PIN, the change windows that apply to the
    number (its own, else the stack's; None: a cutover may start at any time) and its blackouts
    (the stack's and its own)."""

    region: str
    pin: str | None = field(default=None, repr=False)
    enforce_pin: bool = False
    windows: Windows | None = None
    blackouts: Blackouts | None = None

    @classmethod
    def of(cls, declaration: Declaration, windows: Windows | None, blackouts: Blackouts | None = None) -> "Desired":
        return cls(region=declaration.region, pin=declaration.pin, enforce_pin=declaration.enforce_pin,
                   windows=windows, blackouts=blackouts)


class Rule(str, Enum):
    UNMANAGED_STORAGE = "unmanaged_storage"
    PIN_MISSING = "pin_missing"
    PIN_FORMAT = "pin_format"
    NOT_VERIFIED = "not_verified"
    BIZ_APP = "biz_app"
    BUDGET = "budget"
    BREAKER = "breaker"
    POLICY = "policy"
    CREATE_CUTOVER = "create_cutover"
    RETRY_REFUSED = "retry_refused"
    OUTSIDE_WINDOW = "outside_window"
    BLACKOUT = "blackout"
    WINDOWS_NEVER = "windows_never"


@dataclass(frozen=True)
class Problem:
    """One reason a plan must not start.

    ``message`` may name inputs as ``{pin}`` or ``{allow_cutover_on_create}``: ``render`` spells
    them as the reader wrote them (snake_case in a program, camelCase in a stack file). Only those
    names are replaced, never by ``str.format``: a message quotes Meta's data (a status such as
    ``{EXPIRED}``), which must come out as Meta sent it.
    """

    rule: Rule
    message: str
    clears_at: datetime | None = None  # set when the problem only waits: the instant it no longer holds

    @property
    def waits(self) -> bool:
        """Outside a change window, or past the register budget: the plan may start later, unchanged."""
        return self.clears_at is not None

    def render(self, spelling: Mapping[str, str] | None = None) -> str:
        names = spelling or {}
        return _INPUT_NAME.sub(lambda m: names.get(m.group(1), m.group(1)), self.message)

    def __str__(self) -> str:
        return self.render()


_INPUT_NAME = re.compile(r"\{(" + "|".join(name for name in INPUT_KEYS if name != "phone_number_id") + r")\}")


def preflight(plan: Plan, live: LiveNumber, desired: Desired, *, prior_calls: CallLedger, now: datetime,
              breaker: str | None, allowed_regions: frozenset[str] | None = None, creating: bool = False,
              allow_cutover: bool = False) -> list[Problem]:
    """Every reason the plan must not start. Empty when it may run (always empty for an in-sync plan).

    ``creating``: the plan runs for a *create* (the number is new to the stack), so the
    create-cutover gate applies first, unless ``allow_cutover`` (``allow_cutover_on_create``).
    The provider and the CLI's plan both ask here, so both refuse the same plans.
    """
    problems: list[Problem] = []
    if plan.in_sync:
        return problems
    gate = create_cutover_problem(plan, live, desired.region) if creating and not allow_cutover else None
    if gate is not None:
        problems.append(gate)
    if not live.storage_status.managed:
        problems.append(Problem(Rule.UNMANAGED_STORAGE,
            f"its storage is {live.storage_status.value}, which this provider does not manage; "
            "change it in WhatsApp Manager first, or remove the number from the stack"))
    if plan.registers:
        if not desired.pin:
            problems.append(Problem(Rule.PIN_MISSING,
                "the plan registers the number, which needs its 6-digit two-step PIN: set `{pin}`"))
        elif not is_pin(desired.pin):
            problems.append(Problem(Rule.PIN_FORMAT, "`{pin}` must be exactly 6 digits"))
        if not live.node.verified:
            problems.append(Problem(Rule.NOT_VERIFIED,
                f"the number is not verified (code_verification_status "
                f"{live.node.code_verification_status or 'unknown'}), so it cannot register: "
                f"run `python -m provider verify --phone-number-id {plan.number_id}`"))
    if plan.deregisters and live.node.is_on_biz_app:
        problems.append(Problem(Rule.BIZ_APP,
            "the number is shared with the WhatsApp Business app (is_on_biz_app), which cannot be "
            "deregistered through the API nor use local storage"))
    allowed_at = prior_calls.frees_at(plan.registration_call_count, now)
    if allowed_at is not None:
        problems.append(Problem(Rule.BUDGET,
            f"the plan needs {plan.registration_call_count} register/deregister calls and this resource made "
            f"{prior_calls.used(now)} in the last 72 hours; Meta blocks a number for 72 hours after "
            f"{REGISTER_BUDGET}. Allowed again at {format_instant(allowed_at)}", clears_at=allowed_at))
    if plan.deregisters and breaker:
        problems.append(breaker_problem(breaker))
    violation = compliance.verdict(allowed_regions, plan.desired_region) if plan.storage_changes else None
    if violation is not None:
        problems.append(policy_problem(violation))
    if plan.deregisters and (outside := window_problem(desired.windows, desired.blackouts, now)) is not None:
        problems.append(outside)
    return problems


def breaker_problem(breaker: str) -> Problem:
    return Problem(Rule.BREAKER,
                   f"another cutover failed in this run ({breaker}); no further number is taken offline")


def window_problem(windows: Windows | None, blackouts: Blackouts | None, now: datetime, *,
                   waited: bool = False) -> Problem | None:
    """Why a cutover must not start at ``now``, or None (the gate is open). The gate's answer
    (``schedule.gate_at``) is the one every caller gets: waiting (outside the windows, or inside a
    blackout) clears at the next instant a cutover may start; never (an empty list) does not clear.

    ``waited``: the cutover waited for a slot and the gate closed meanwhile. A cutover that
    started while the gate was open finishes; none starts after it closed.
    """
    found = schedule.gate_at(windows, blackouts, now)
    if found.may_start:
        return None
    return gate_problem(found, windows, waited=waited)


def gate_problem(found: Gate, windows: Windows | None, *, waited: bool = False) -> Problem:
    """The gate's refusal as a problem: its rule, its sentence and what to do."""
    listed = "; ".join(map(str, windows or ())) or "an empty list"
    cause = ("the gate closed while it waited for a cutover slot" if waited
             else "the plan takes the number offline (deregister)")
    if found.opens is None:  # never
        return Problem(Rule.WINDOWS_NEVER,
                       f"{cause}, and `{{cutover_windows}}` is an empty list: {found.sentence()}. Nothing waits for "
                       "this: it is refused until the windows change")
    rule = Rule.BLACKOUT if found.blackout is not None else Rule.OUTSIDE_WINDOW
    where = f"`{{cutover_windows}}` is {listed}" if windows is not None else "there are no change windows"
    return Problem(rule, f"{cause}: {found.sentence()} ({where}). Run `pulumi up` when a cutover may start (e.g. a "
                         "scheduled deployment), or change the windows or blackouts", clears_at=found.opens.at)


def retry_problem(reason: str) -> Problem:
    return Problem(Rule.RETRY_REFUSED,
                   f"an earlier attempt for this number in this run failed: {reason}. Another attempt in the "
                   "same run (an engine retry) would only spend PIN guesses and the 72-hour register "
                   "budget: fix the cause first")


def policy_problem(violation: compliance.Violation) -> Problem:
    return Problem(Rule.POLICY, violation.message())


def create_cutover_problem(plan: Plan, live: LiveNumber, desired_region: str) -> Problem | None:
    """Why a *create* must not run this plan, or None.

    A create never cuts a registered number over: `pulumi preview` shows a create as a plain +
    without asking the provider, so the cutover would reach production unreviewed. No Storage and
    Business-app numbers are left to ``preflight``, whose reason is the one that applies
    ("declare its current region" cannot fix them).
    """
    if not plan.deregisters or not live.storage_status.managed or live.node.is_on_biz_app:
        return None
    return Problem(Rule.CREATE_CUTOVER,
        "the number is new to the stack, so `pulumi up` creates its resource, and it is registered and serving "
        f"traffic with storage {describe(live.region)}, not "
        f"{describe(desired_region)}. A create never cuts a number over, because `pulumi preview` shows "
        "a create without asking the provider: declare its current region first, then change it in a "
        "separate update (or set {allow_cutover_on_create} to true to accept an unreviewed cutover)")
