"""The report: what every declared number would do, as data. No rendering, no exit codes.

``assess`` reads each number and plans and preflights it exactly as the provider would
(``Executor.plan_for``, ``safety.preflight`` with its create-cutover gate), never a copy.
What a command shows, and how it turns a report into an exit code, is the command's business;
what the assessment covers is given as ``Scope`` data, never by the command's name.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from .. import windows as change_windows
from ..client import READ_WORKERS, GraphClient
from ..compliance import allows, verdict
from ..config import ProviderConfig
from ..errors import AuthenticationFailed, GraphUnreachable, NetworkError, ObjectNotFound, WhatsAppError, cannot_see
from ..executor import Executor
from ..models import LiveNumber, id_order
from ..planner import Plan
from ..redact import redact
from ..regions import DEFAULT
from ..safety import (REGISTER_BUDGET, Desired, Problem, Rule, create_cutover_problem, policy_problem, preflight,
                      recent_calls, utcnow)
from ..stackfile import PLACEHOLDER_PIN, Secure, StackFile, StateEntry, StateFile, without_secrets
from ..inputs import from_stack_entry
from ..progress import Progress


@dataclass(frozen=True)
class Scope:
    """What an assessment covers beyond the declared numbers."""

    removed: bool = False  # with --state: numbers in state but no longer declared (what `pulumi up` deletes)
    create_cutover_warning: bool = False  # without --state: warn that a create would refuse a cutover
    # plan --wait-for-window: a cutover refused only for being outside its change window now is shown as
    # waiting for the window (a warning), not as refused: a pull request merges any time, the deploy
    # job runs `pulumi up` inside the window.
    wait_for_window: bool = False


@dataclass
class NumberReport:
    """One declared (or, with --state, removed) number: live state, plan, preflight, budget, policy."""

    number_id: str
    name: str | None = None
    declared: dict[str, Any] | None = None
    pin: str = "missing"  # "plain", "secure" (declared, encrypted) or "missing"
    live: LiveNumber | None = None
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error: str | None = None
    invalid: bool = False  # the entry fails the input rules: the stack program declares nothing
    in_state: bool | None = None  # None: no --state given
    state: StateEntry | None = None
    budget_used: int | None = None
    removed: bool = False
    allowed_regions: frozenset[str] | None = None
    windows: change_windows.Windows | None = None  # None: cutovers at any time
    window: change_windows.WindowState | None = None  # where the read time stands in them

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.removed:
            return "removed"
        if self.plan is None or self.plan.in_sync:
            return "in_sync" if not self.problems else "refused"
        return "refused" if self.problems else "change"

    @property
    def drifted(self) -> bool:
        """Declared and live differ: converging would make a call (even one preflight refuses)."""
        return self.plan is not None and not self.removed and not self.plan.in_sync

    @property
    def budget_left(self) -> int | None:
        return None if self.budget_used is None else max(0, REGISTER_BUDGET - self.budget_used)

    @property
    def declared_region(self) -> str | None:
        return (self.declared or {}).get("region") if not self.removed else None

    @property
    def policy_blocks_declaration(self) -> bool:
        """The declared region is outside allowedRegions: the stack program declares no resource."""
        return self.declared_region is not None and verdict(self.allowed_regions, self.declared_region) is not None

    @property
    def live_complies_with_policy(self) -> bool | None:
        """None when the number was not read."""
        return None if self.live is None else allows(self.allowed_regions, self.live.region)

    @property
    def complies_with_declaration(self) -> bool | None:
        """Live matches what is declared (in sync); None when that is unknown."""
        return None if self.plan is None or self.removed else self.plan.in_sync


@dataclass
class Report:
    stack: StackFile
    config: ProviderConfig
    state: StateFile | None
    allowed_regions: frozenset[str] | None
    numbers: list[NumberReport]
    read_at: datetime

    def count(self, status: str) -> int:
        return sum(n.status == status for n in self.numbers)

    @property
    def drift_count(self) -> int:
        return sum(n.drifted for n in self.numbers)

    @property
    def blocking_entries(self) -> list[NumberReport]:
        """Entries that make the stack program stop before declaring any resource."""
        return [n for n in self.numbers if n.invalid or n.policy_blocks_declaration]

    @property
    def refused_deletes(self) -> list[NumberReport]:
        """Removed numbers (on_delete=disable) whose delete the provider's preflight refuses: `pulumi up` fails."""
        return [n for n in self.numbers if n.removed and n.problems]

    @property
    def policy_violations(self) -> list[NumberReport]:
        """Numbers whose live storage is outside allowedRegions."""
        return [n for n in self.numbers if n.live_complies_with_policy is False]

    @property
    def stack_file_label(self) -> str:
        return self.stack.path.relative_to(self.stack.project_dir).as_posix()

    @property
    def graph_api_url(self) -> str:
        return redact(self.config.graph_api_url)


def _pin_status(entry: Any) -> str:
    pin = entry.get("pin") if isinstance(entry, Mapping) else None
    if isinstance(pin, Secure):
        return "secure"
    return "missing" if pin is None else "plain"


def _name(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return None if name is None else str(name)


def _cannot_see(number_id: str, exc: ObjectNotFound) -> str:
    return f"{cannot_see(number_id, exc)}; check the phone number ID and the token's access to its business account"


@dataclass(frozen=True)
class _Job:
    report: NumberReport
    desired: Desired
    allow_cutover_on_create: bool
    prior_calls: Sequence[object]
    allowed_regions: frozenset[str] | None  # the stack's policy, which the provider's preflight applies too


class _Reads:
    """Whether the Graph host answers at all. After a first round of connection failures and no
    answer, the remaining numbers are not read: the run reports the cause once."""

    def __init__(self, first_round: int) -> None:
        self._lock = threading.Lock()
        self._first_round = first_round
        self.answered = 0
        self.unreachable: list[NetworkError] = []
        self.stop: BaseException | None = None

    def skip(self) -> bool:
        with self._lock:
            return self.stop is not None or (not self.answered and len(self.unreachable) >= self._first_round)

    def record(self, exc: BaseException | None) -> None:
        with self._lock:
            if not (isinstance(exc, NetworkError) and exc.unreachable):
                self.answered += 1
            else:
                self.unreachable.append(exc)
            if isinstance(exc, AuthenticationFailed):
                self.stop = exc


def _assess(executor: Executor, job: _Job, scope: Scope, reads: _Reads, now: datetime) -> None:
    """Read the number, plan and preflight it exactly as the provider would, into ``job.report``."""
    report = job.report
    if reads.skip():
        report.error = "not read: the run stopped before this number (see the run's error)"
        return
    try:
        live = executor.read(report.number_id, reuse=False)
    except AuthenticationFailed as exc:
        reads.record(exc)
        raise  # the token is wrong for every number: one error, not one per number
    except ObjectNotFound as exc:
        reads.record(exc)
        report.error = _cannot_see(report.number_id, exc)
        return
    except WhatsAppError as exc:
        reads.record(exc)
        report.error = str(exc)
        return
    reads.record(None)
    desired = job.desired
    plan = executor.plan_for(report.number_id, live, desired)
    prior = recent_calls(job.prior_calls, now)
    report.live, report.plan = live, plan
    # breaker=None: the circuit breaker belongs to one `pulumi up` process, not to this command.
    # The provider's own preflight, policy included: on_delete=disable of a removed number is refused
    # as `pulumi up` would refuse it when DEFAULT is not an allowed region.
    report.problems = preflight(plan, live, desired, prior_calls=prior, now=now, breaker=None,
                                allowed_regions=job.allowed_regions, creating=report.in_state is False,
                                allow_cutover=job.allow_cutover_on_create)
    if scope.wait_for_window:
        waiting = [p for p in report.problems if p.rule is Rule.OUTSIDE_WINDOW]
        report.problems = [p for p in report.problems if p.rule is not Rule.OUTSIDE_WINDOW]
        report.warnings.extend(Problem(p.rule, f"waits for its change window: {p.message}") for p in waiting)
    if report.policy_blocks_declaration and not any(p.rule is Rule.POLICY for p in report.problems):
        violation = verdict(report.allowed_regions, report.declared_region)
        assert violation is not None
        report.problems.append(policy_problem(violation))
    if report.in_state is not None:
        report.budget_used = len(prior)
    # Without --state nobody knows whether `pulumi up` creates the resource: the same gate, as a warning.
    unknown = report.in_state is None and scope.create_cutover_warning and not job.allow_cutover_on_create
    if unknown and (refusal := create_cutover_problem(plan, live, desired.region)) is not None:
        report.warnings.append(Problem(refusal.rule, f"if this number is not in the stack's state yet, `pulumi up` "
                                       f"refuses this cutover: {refusal.message} (pass --state to know)"))


def _windows_of(report: NumberReport, own: Any, stack_windows: Any, now: datetime) -> change_windows.Windows | None:
    """The number's change windows (its own, else the stack's), recorded with where ``now`` stands."""
    found = change_windows.effective(own, stack_windows, today=now.date())
    report.windows = found
    report.window = None if found is None else change_windows.state(found, now)
    return found


def _declared_jobs(stack: StackFile, state: StateFile | None, allowed: frozenset[str] | None,
                   stack_windows: Any, now: datetime) -> tuple[list[NumberReport], list[_Job]]:
    declared = stack.phone_numbers()
    reports: list[NumberReport] = []
    jobs: list[_Job] = []
    for number_id in sorted(declared, key=id_order):
        entry = declared[number_id]
        report = NumberReport(number_id, name=_name(entry), pin=_pin_status(entry), allowed_regions=allowed,
                              in_state=None if state is None else number_id in state,
                              state=None if state is None else state.numbers.get(number_id))
        reports.append(report)
        inputs, failures = from_stack_entry(number_id, without_secrets(entry))
        if failures:
            report.invalid = True
            report.error = "invalid declaration: " + "; ".join(map(str, failures))
            continue
        report.declared = {k: v for k, v in inputs.items() if k not in ("pin", "phone_number_id")}
        desired = Desired.from_inputs(inputs, windows=_windows_of(report, inputs.get("cutover_windows"), stack_windows, now))
        prior = (state.outputs(number_id) if state else {}).get("registration_calls") or []
        jobs.append(_Job(report, desired, bool(inputs.get("allow_cutover_on_create")), prior, allowed))
    return reports, jobs


def _removed_jobs(declared: set[str], state: StateFile, allowed: frozenset[str] | None,
                  stack_windows: Any, now: datetime) -> tuple[list[NumberReport], list[_Job]]:
    reports: list[NumberReport] = []
    jobs: list[_Job] = []
    for number_id in sorted(set(state.numbers) - declared, key=id_order):
        outputs = state.outputs(number_id)
        pin = None if outputs.get("pin") is None else PLACEHOLDER_PIN  # encrypted in the export
        report = NumberReport(number_id, in_state=True, removed=True, pin="missing" if pin is None else "secure",
                              state=state.numbers[number_id],
                              declared={"on_delete": outputs.get("on_delete") or "retain"})
        reports.append(report)
        if report.declared and report.declared["on_delete"] == "disable":
            # the delete runs on the stored inputs: the windows in state, else the stack's
            desired = Desired.from_inputs({"region": DEFAULT, "pin": pin, "enforce_pin": outputs.get("enforce_pin")},
                                          windows=_windows_of(report, outputs.get("cutover_windows"), stack_windows, now))
            jobs.append(_Job(report, desired, True, outputs.get("registration_calls") or [], allowed))
    return reports, jobs


def assess(stack: StackFile, config: ProviderConfig, *, allowed_regions: frozenset[str] | None,
           state: StateFile | None = None, scope: Scope = Scope(),
           progress: Callable[[int], Progress] | None = None, now: datetime | None = None) -> Report:
    """Read every declared number (and, in scope, every removed one) and plan it: the report.

    ``progress(total)`` makes the counter for the reads, once their number is known.
    """
    now = now or utcnow()
    stack_windows = stack.config.get(change_windows.STACK_KEY)
    change_windows.parse_windows(stack_windows, setting=change_windows.STACK_KEY, today=now.date())  # before any read
    reports, jobs = _declared_jobs(stack, state, allowed_regions, stack_windows, now)
    if scope.removed and state is not None:
        removed, removed_jobs = _removed_jobs(set(stack.phone_numbers()), state, allowed_regions, stack_windows, now)
        reports += removed
        jobs += removed_jobs
    if jobs:
        _read_all(config, jobs, scope, now, progress(len(jobs)) if progress else None)
    reports.sort(key=lambda r: id_order(r.number_id))
    return Report(stack, config, state, allowed_regions, reports, now)


def _read_all(config: ProviderConfig, jobs: list[_Job], scope: Scope, now: datetime,
              progress: Progress | None) -> None:
    client = GraphClient(config)
    executor = Executor(client)
    workers = min(READ_WORKERS, len(jobs))
    reads = _Reads(first_round=workers)
    if progress:
        progress.start()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_assess, executor, job, scope, reads, now) for job in jobs]
            if progress:
                for future in futures:
                    future.add_done_callback(lambda _done: progress.advance())
            for future in futures:
                future.result()
    finally:
        client.close()
        if progress:
            progress.finish()
    if reads.unreachable and not reads.answered:
        raise GraphUnreachable(redact(config.graph_api_url), reads.unreachable[-1], len(reads.unreachable),
                               len(jobs))
