"""The report: what every declared number would do, as data. No rendering, no exit codes.

Each number is read and assessed exactly as the provider would (``assessment.assess``: the plan,
preflight with its create-cutover gate, the windows, the budget, the on-delete verdict), never a
copy. What a command shows, and how it turns a report into an exit code, is the command's
business; what the report covers is given as ``Scope`` data, never by the command's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from .. import assessment, clock, lifecycle, schedule
from ..assessment import Assessment, Context, DeleteFacts, LiveReader, Wanted
from ..client import READ_WORKERS, GraphClient
from ..compliance import allows, verdict
from ..config import ProviderConfig
from ..declaration import Declaration, delete_target
from ..errors import GraphUnreachable as GraphUnreachable  # noqa: F401 - raised from here before; importable
from ..errors import ObjectNotFound, cannot_see
from ..inputs import from_stack_entry
from ..ledger import REGISTER_BUDGET, CallLedger
from ..models import LiveNumber, id_order
from ..notices import Notices
from ..planner import Plan
from ..progress import Progress
from ..redact import redact
from ..safety import STACK_SPELLING, Problem, Rule, format_time, policy_problem
from ..stackfile import PLACEHOLDER_PIN, Secure, StackFile, StateEntry, StateFile, without_secrets


# What `drift` (and `report`) call a number, with --state (issue 27): declared region vs state, live vs
# state. Without --state nothing can be pending: a merged, undeployed change reads as drift.
IN_SYNC, PENDING, DRIFT, POLICY, ERROR = "in_sync", "pending", "drift", "policy", "error"
SYNC_STATUSES = (ERROR, POLICY, DRIFT, PENDING, IN_SYNC)  # most urgent first

# What a number has to say in `plan` and `drift`, most urgent first (issue 28); QUIET says nothing.
URGENCY = ("error", "refused", "policy", "drift", "offline", "change", "pending", "warning")
QUIET = len(URGENCY)


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
    windows: schedule.Windows | None = None  # None: cutovers at any time
    window: schedule.WindowState | None = None  # where the read time stands in them
    gate: schedule.Gate | None = None  # may a cutover start at the read time (None: no windows, no blackouts)
    assessment: Assessment | None = None  # the number's assessment (before its read, if it was not read)

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
    def live_differs_from_state(self) -> bool:
        """Live is not what the last `pulumi up` (or refresh) recorded: changed outside Pulumi.

        The outputs keep the live region (absent for storage with no region), the storage status
        and registration; a key an older export lacks is not compared."""
        if self.state is None or self.live is None:
            return False
        recorded = self.state.outputs
        live = self.live
        region_recorded = "region" in recorded or "storage_status" in recorded  # absent region: no region
        return ((region_recorded and recorded.get("region") != live.region)
                or ("storage_status" in recorded and recorded["storage_status"] != live.storage_status.value)
                or ("registered" in recorded and recorded["registered"] != live.registered))

    @property
    def sync_status(self) -> str:
        """in_sync, pending, drift, policy or error: the table of issue 27, for a declared number.

        | declared region vs state | live vs state | status  |
        | same                     | same          | in sync |
        | differs                  | same          | pending |
        | any                      | differs       | drift   |

        A live region outside allowedRegions (or a declared one: `pulumi up` stops) is ``policy``
        whatever the row; a number that cannot be read is ``error``. Only the region makes a number
        pending: a new name or window changes nothing at Meta. A number new to the stack is pending
        (`pulumi up` creates its resource). Without --state: in sync or drift, never pending.
        """
        if self.error or self.plan is None or self.live is None:
            return ERROR
        if self.live_complies_with_policy is False or self.policy_blocks_declaration:
            return POLICY
        if self.in_state is None or self.removed:
            return IN_SYNC if self.plan.in_sync else DRIFT
        if self.state is None:
            return PENDING
        if self.live_differs_from_state:
            return DRIFT
        deployed = lifecycle.declared_region(self.state.outputs)  # None: an export that records none
        if deployed is not None and deployed != self.declared_region:
            return PENDING
        # declared and live both as recorded, yet they differ: state itself recorded an unconverged number
        return IN_SYNC if self.plan.in_sync else DRIFT

    @property
    def can_go(self) -> str:
        """When a pending change can be deployed, from the number's assessment: its problems that
        only wait (next window opening, blackout end, the instant its register budget frees)."""
        found = self.assessment
        if found is None or found.plan is None:
            return "unknown (not read)"
        if found.refusals:
            return "not by itself: " + "; ".join(p.render(STACK_SPELLING) for p in found.refusals)
        if found.clears_at is not None:
            why = "; ".join(p.render(STACK_SPELLING) for p in found.waits)
            return f"from {format_time(found.clears_at)} ({why})"
        return "now: at the next deploy"

    def urgency(self, drift_view: bool) -> int:
        """Its rank in ``URGENCY`` (``QUIET``: nothing to say), as ``plan`` or ``drift`` shows it."""
        if self.error:
            return URGENCY.index("error")
        if drift_view:
            word = {POLICY: "policy", DRIFT: "drift", PENDING: "pending"}.get(self.sync_status)
            if word is None:
                return URGENCY.index("warning") if self.warnings else QUIET
            return URGENCY.index(word)
        if self.problems:
            return URGENCY.index("refused")
        if self.live_complies_with_policy is False:
            return URGENCY.index("policy")
        if self.in_state and self.live_differs_from_state:
            return URGENCY.index("drift")
        if self.plan is not None and not self.plan.in_sync:
            # a change that only waits (--wait-for-window: its window, a blackout, its budget) is pending,
            # even one that will take the number offline then: nothing happens now
            if self.assessment is not None and self.assessment.problems and not self.assessment.refusals:
                return URGENCY.index("pending")
            return URGENCY.index("offline" if self.plan.deregisters else "change")
        if self.removed:
            return URGENCY.index("change")
        return URGENCY.index("warning") if self.warnings else QUIET

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
    # (numbers read without a wabaId, numbers read): each of the first costs a node read against Meta's hourly limit
    unlisted: tuple[int, int] = (0, 0)

    def count(self, status: str) -> int:
        return sum(n.status == status for n in self.numbers)

    def sync_count(self, status: str) -> int:
        """Declared numbers with this ``sync_status`` (removed ones have none)."""
        return sum(n.sync_status == status for n in self.numbers if not n.removed)

    @property
    def pending(self) -> list[NumberReport]:
        return [n for n in self.numbers if not n.removed and n.sync_status == PENDING]

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
    declaration: Declaration
    context: Context


_GATE_WAITS = (Rule.OUTSIDE_WINDOW, Rule.BLACKOUT)


def _fill(report: NumberReport, found: Assessment, scope: Scope) -> None:
    """The report's view of the number's assessment (the CLI's own scope applied)."""
    report.assessment = found
    report.windows, report.window, report.gate = found.windows, found.window, found.gate
    if found.live is None:
        return
    report.live, report.plan = found.live, found.plan
    if report.in_state is not None:
        report.budget_used = found.budget_used
    problems, warnings = list(found.problems), []
    if scope.wait_for_window:  # waiting only: an empty window list (never) stays a refusal
        waiting = [p for p in problems if p.rule in _GATE_WAITS and p.waits]
        warnings = [Problem(p.rule, f"waits for its change window: {p.message}", p.clears_at) for p in waiting]
        problems = [p for p in problems if p not in waiting]
    # The stack program refuses a declaration outside allowedRegions: `pulumi up` declares nothing.
    blocked = verdict(report.allowed_regions, report.declared_region) if report.declared_region else None
    if blocked is not None and not any(p.rule is Rule.POLICY for p in problems):
        problems.append(policy_problem(blocked))
    # Without --state nobody knows whether `pulumi up` creates the resource: the same gate, as a warning.
    if report.in_state is None and scope.create_cutover_warning and found.if_created is not None:
        warnings.append(Problem(found.if_created.rule, "if this number is not in the stack's state yet, `pulumi up` "
                                f"refuses this cutover: {found.if_created.message} (pass --state to know)"))
    report.problems, report.warnings = problems, report.warnings + warnings


def _declared_jobs(stack: StackFile, state: StateFile | None, base: Context) -> tuple[list[NumberReport], list[_Job]]:
    declared = stack.phone_numbers()
    reports: list[NumberReport] = []
    jobs: list[_Job] = []
    for number_id in sorted(declared, key=id_order):
        entry = declared[number_id]
        report = NumberReport(number_id, name=_name(entry), pin=_pin_status(entry), allowed_regions=base.allowed_regions,
                              in_state=None if state is None else number_id in state,
                              state=None if state is None else state.numbers.get(number_id))
        reports.append(report)
        declaration, failures = from_stack_entry(number_id, without_secrets(entry), today=base.now.date())
        if declaration is None:
            report.invalid = True
            report.error = "invalid declaration: " + "; ".join(map(str, failures))
            continue
        report.declared = {k: v for k, v in declaration.as_inputs().items() if k not in ("pin", "phone_number_id")}
        carried = CallLedger.from_state((state.outputs(number_id) if state else {}).get("registration_calls"))
        context = Context(now=base.now, settings_flow=base.settings_flow, ledger=carried,
                          allowed_regions=base.allowed_regions, stack_windows=base.stack_windows,
                          stack_blackouts=base.stack_blackouts,
                          creating=None if report.in_state is None else not report.in_state)
        jobs.append(_Job(report, declaration, context))
    return reports, jobs


def _removed_jobs(declared: set[str], state: StateFile, base: Context, scope: Scope
                  ) -> tuple[list[NumberReport], list[_Job]]:
    """Numbers in state the stack file no longer declares: what `pulumi up` deletes, as the
    provider's Delete decides it (a removed number is wanted by no other entry)."""
    reports: list[NumberReport] = []
    jobs: list[_Job] = []
    for number_id in sorted(set(state.numbers) - declared, key=id_order):
        outputs = state.outputs(number_id)
        pin = None if outputs.get("pin") is None else PLACEHOLDER_PIN  # encrypted in the export
        target = delete_target(number_id, {**outputs, "pin": pin})
        report = NumberReport(number_id, in_state=True, removed=True, pin="missing" if pin is None else "secure",
                              state=state.numbers[number_id], declared={"on_delete": target.on_delete})
        reports.append(report)
        context = Context(now=base.now, settings_flow=base.settings_flow,
                          ledger=CallLedger.from_state(outputs.get("registration_calls")),
                          allowed_regions=base.allowed_regions, stack_windows=base.stack_windows,
                          stack_blackouts=base.stack_blackouts,
                          deleting=DeleteFacts(frozenset(declared), wanted_here=False,
                                               stored_region=outputs.get("region")))
        known = assessment.assess(target, None, context)
        if not known.no_call:
            _fill(report, known, scope)
            jobs.append(_Job(report, target, context))
    return reports, jobs


def assess(stack: StackFile, config: ProviderConfig, *, allowed_regions: frozenset[str] | None,
           state: StateFile | None = None, scope: Scope = Scope(),
           progress: Callable[[int], Progress] | None = None, now: datetime | None = None,
           notices: Notices | None = None) -> Report:
    """Read every declared number (and, in scope, every removed one) and assess it: the report.

    ``progress(total)`` makes the counter for the reads, once their number is known.
    """
    now = now or clock.now()
    schedule.of_stack(stack.config, today=now.date())  # a malformed setting stops the run before any read
    schedule.blackouts_of_stack(stack.config)
    base = Context(now=now, settings_flow=config.settings_flow, allowed_regions=allowed_regions,
                   stack_windows=stack.config.get(schedule.STACK_KEY),
                   stack_blackouts=stack.config.get(schedule.BLACKOUTS_KEY))
    reports, jobs = _declared_jobs(stack, state, base)
    for job in jobs:  # what is known before reading (the windows), also for a number whose read fails
        _fill(job.report, assessment.assess(job.declaration, None, job.context), scope)
    if scope.removed and state is not None:
        removed, removed_jobs = _removed_jobs(set(stack.phone_numbers()), state, base, scope)
        reports += removed
        jobs += removed_jobs
    if jobs:
        _read_all(config, jobs, scope, progress(len(jobs)) if progress else None, notices)
    reports.sort(key=lambda r: id_order(r.number_id))
    return Report(stack, config, state, allowed_regions, reports, now,
                  unlisted=(sum(not job.declaration.waba_id for job in jobs), len(jobs)))


def _read_all(config: ProviderConfig, jobs: list[_Job], scope: Scope, progress: Progress | None,
              notices: Notices | None) -> None:
    client = GraphClient(config, notices=notices)
    reader = LiveReader(client, target=redact(config.graph_api_url), api=f"{config.graph_api_url}/{config.api_version}",
                        notices=notices)
    if progress:
        progress.start()
    try:
        reads = reader.read_live([Wanted(job.report.number_id, waba_id=job.declaration.waba_id) for job in jobs],
                                 workers=READ_WORKERS, advance=progress.advance if progress else None)
    finally:
        client.close()
        if progress:
            progress.finish()
    for job, read in zip(jobs, reads):
        if read.live is not None:
            _fill(job.report, assessment.assess(job.declaration, read.live, job.context), scope)
        elif isinstance(read.error, ObjectNotFound):
            job.report.error = _cannot_see(job.report.number_id, read.error)
        elif read.error is not None:
            job.report.error = str(read.error)
        else:
            job.report.error = "not read: the run stopped before this number (see the run's error)"
