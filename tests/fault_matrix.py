"""The fault matrix of issue 5: every plan with a fault injected at every call position.

Plans: enable, change, disable, from an unregistered number, and the v20 register flow. Positions:
the reads, each mutating call and the read-back. Faults: transient errors, answers lost after the
call was applied, dropped connections, permanent errors, and genuine client timeouts. Each case
runs ``pulumi up --skip-preview`` through ``tests/engine.py`` with ``InProcessProvider`` standing in
for the provider process, then re-runs once the fault is gone. ``tests/protocol/test_faults.py`` asserts on
the rows; ``python -m tests.reliability_report --faults`` prints the table.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.executor import Executor
from provider.fleet import reset_process_state
from provider.declaration import Declaration
from provider.notices import Notices
from tests.calllog import call_kind, posts
from tests.reliability_report import (
    DEFAULT,
    engine_config,
    error_text,
    in_process_engine,
    markdown_table,
    registered,
    storage_of,
)

MUTATING = ("deregister", "settings", "register")
PIN_AND_LOCKOUT_CODES = (133005, 133008, 133009, 133016)
DO_NOT_RERUN = "not re-run automatically"

@dataclass(frozen=True)
class PlanCase:
    key: str
    number: str
    start: str  # the storage the number has (and is declared with) before the run
    target: str
    version: str
    steps: tuple[str, ...]  # the mutating calls of the plan, in order
    create: bool = False  # the number is not registered: a create runs the plan

    @property
    def start_registered(self) -> bool:
        return not self.create

    def program(self, region: str) -> dict[str, dict[str, Any]]:
        return {"n": {"phone_number_id": self.number, "region": region, "pin": DEMO_PIN}}


PLANS = (
    PlanCase("enable", REGISTERED_DEFAULT, DEFAULT, "BR", "v25.0", ("deregister", "settings", "register")),
    PlanCase("change", REGISTERED_BR, "BR", "IN", "v25.0", ("deregister", "settings", "register")),
    PlanCase("disable", REGISTERED_BR, "BR", DEFAULT, "v25.0", ("deregister", "settings", "register")),
    PlanCase("unregistered", UNREGISTERED, DEFAULT, "BR", "v25.0", ("settings", "register"), create=True),
    # A retired v20.0 is served as the oldest live version (v21.0+): the /settings flow.
    PlanCase("v20 enable", REGISTERED_DEFAULT, DEFAULT, "BR", "v20.0", ("deregister", "settings", "register")),
    PlanCase("v20 disable", REGISTERED_BR, "BR", DEFAULT, "v20.0", ("deregister", "settings", "register")),
)
PLANS_BY_KEY = {p.key: p for p in PLANS}


@dataclass(frozen=True)
class Fault:
    label: str
    kind: str  # transient, lost, dropped, permanent, timeout
    spec: dict[str, Any]
    applied: bool = False  # the emulator carries the call out before answering (or not answering)

    @property
    def code(self) -> int | None:
        return self.spec.get("code")


TRANSIENT = (
    Fault("503 133004 (Retry-After 0)", "transient", {"status": 503, "code": 133004, "retry_after": 0}),
    Fault("400 80007 rate limit", "transient", {"status": 400, "code": 80007}),
)
APPLIED_THEN_503 = Fault("503 133004 after applying", "transient",
                         {"status": 503, "code": 133004, "apply": True}, applied=True)
LOST = Fault("answer lost (applied, connection dropped)", "lost", {"drop": True, "apply": True}, applied=True)
DROPPED = Fault("connection dropped (not applied)", "dropped", {"drop": True, "apply": False})
PERMANENT = tuple(Fault(f"permanent {code}", "permanent", {"code": code}) for code in (133005, 131009, 133016, 190))
READ_PERMANENT = tuple(f for f in PERMANENT if f.code in (131009, 190))
LOCKOUT = tuple(Fault(f"permanent {code}", "permanent", {"code": code}) for code in (133008, 133009))

READ_FAULTS = (*TRANSIENT, DROPPED, *READ_PERMANENT)
MUTATING_FAULTS = (*TRANSIENT, APPLIED_THEN_503, LOST, DROPPED, *PERMANENT)
TIMEOUT_FAULTS = (
    Fault("timeout 0.5 s (applied)", "timeout", {"delay_ms": 900, "apply": True}, applied=True),
    Fault("timeout 0.5 s (not applied)", "timeout", {"delay_ms": 900, "drop": True, "apply": False}),
)
READBACK_PLANS = ("enable", "v20 enable")  # the read-back is the same code in every plan


@dataclass(frozen=True)
class FaultCase:
    index: int
    plan: PlanCase
    position: str  # "read: GET number", "deregister", "read back: GET settings", ...
    fault: Fault

    @property
    def id(self) -> str:
        return f"{self.plan.key} | {self.position} | {self.fault.label}"

    @property
    def phase(self) -> str:
        if self.position.startswith("read back"):
            return "readback"
        if self.position.startswith("read"):
            return "read"
        return "mutating"

    @property
    def step(self) -> str:
        return self.position.split()[-1] if self.phase == "mutating" else ""

    @property
    def path(self) -> str:
        number = self.plan.number
        if self.phase == "mutating":
            return f"/{number}/{self.step}"
        return f"/{number}/settings" if self.position.endswith("settings") else f"/{number}"

    @property
    def method(self) -> str:
        return "POST" if self.phase == "mutating" else "GET"

    def fault_spec(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "count": 1, **self.fault.spec}


def fault_cases() -> list[FaultCase]:
    cases: list[FaultCase] = []
    for plan in PLANS:
        positions: list[tuple[str, tuple[Fault, ...]]] = [
            ("read: GET number", READ_FAULTS), ("read: GET settings", READ_FAULTS)]
        positions += [(step, MUTATING_FAULTS + (LOCKOUT if step == "register" else ())) for step in plan.steps]
        if plan.key in READBACK_PLANS:
            positions += [("read back: GET number", READ_FAULTS), ("read back: GET settings", READ_FAULTS)]
        for position, faults in positions:
            for fault in faults:
                cases.append(FaultCase(len(cases) + 1, plan, position, fault))
    return cases


def timeout_cases() -> list[FaultCase]:
    """Genuine client timeouts (read timeout 0.5 s) on each mutating call of the enable plan."""
    plan = PLANS_BY_KEY["enable"]
    start = len(fault_cases())
    cases: list[FaultCase] = []
    for step in plan.steps:
        for fault in TIMEOUT_FAULTS:
            cases.append(FaultCase(start + len(cases) + 1, plan, step, fault))
    return cases


@dataclass
class FaultRow:
    case: FaultCase
    converged: bool
    error: str
    registered_after: bool
    storage_after: str | None
    calls: list[dict]
    stderr: str
    rerun_converged: bool | None = None  # None: no re-run needed
    rerun_error: str = ""
    rerun_calls: list[dict] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return [call_kind(c, self.case.plan.number) for c in self.calls]

    def count(self, kind: str) -> int:
        return self.kinds.count(kind)

    @property
    def left_offline(self) -> str:
        if not self.case.plan.start_registered:
            return "no" if self.registered_after else "n/a (was not registered)"
        return "no" if self.registered_after else "YES"

    def cells(self) -> list[str]:
        c = self.case
        rerun = "-" if self.rerun_converged is None else ("yes" if self.rerun_converged else "NO")
        return [str(c.index), c.plan.key, c.position, c.fault.label,
                "yes" if self.converged else "no (error)", self.left_offline,
                f"{len(posts(self.calls))} / {len(self.calls)}", rerun]


def _converged(emu: Emulator, plan: PlanCase) -> tuple[bool, dict]:
    record = emu.number(plan.number)
    return registered(record) and storage_of(record) == plan.target, record


def run_fault_case(emu: Emulator, case: FaultCase) -> FaultRow:
    """One case on a freshly reset emulator: declare, inject, run, then re-run without the fault."""
    plan = case.plan
    emu.reset("demo")
    if case.fault.kind == "timeout":
        return _run_timeout_case(emu, case)
    eng = in_process_engine(engine_config(emu, version=plan.version))
    if not plan.create:
        adopted = eng.up(plan.program(plan.start), skip_preview=True)["n"]
        assert adopted.op == "create" and adopted.outputs["applied_steps"] == [], error_text(adopted)
    emu.clear_calls()
    inject = lambda: emu.fault(**case.fault_spec())  # noqa: E731
    if case.phase != "readback":
        inject()
    # --skip-preview: the fault is meant for the update deployment's own calls
    result = eng.up(plan.program(plan.target), skip_preview=True,
                    before_apply=inject if case.phase == "readback" else None)["n"]
    calls = emu.calls()
    ok, record = _converged(emu, plan)
    row = FaultRow(case, converged=result.error is None and ok, error=error_text(result),
                   registered_after=registered(record), storage_after=storage_of(record),
                   calls=calls, stderr=eng.last_stderr, outputs=result.outputs)
    if result.error is not None:
        emu.clear_faults()
        emu.clear_calls()
        again = eng.up(plan.program(plan.target), skip_preview=True)["n"]
        ok_again, _ = _converged(emu, plan)
        row.rerun_converged = again.error is None and ok_again
        row.rerun_error = error_text(again)
        row.rerun_calls = emu.calls()
    return row


def _run_timeout_case(emu: Emulator, case: FaultCase) -> FaultRow:
    """A genuine timeout: an Executor whose client gives up reading after 0.5 s."""
    plan = case.plan
    reset_process_state()
    config = ProviderConfig.parse({"access_token": emu.token, "graph_api_url": emu.url,
                                   "api_version": plan.version})
    client = GraphClient(config, timeout=(1.0, 0.5))
    out = io.StringIO()
    executor = Executor(client, notices=Notices(out))
    emu.fault(**case.fault_spec())
    error = ""
    try:
        executor.converge(Declaration(plan.number, plan.target, pin=DEMO_PIN))
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    finally:
        client.close()
        reset_process_state()
    deadline = time.monotonic() + 5  # the emulator logs the delayed call once it has answered it
    calls = emu.calls()
    while not any(c.get("fault") for c in calls) and time.monotonic() < deadline:
        time.sleep(0.05)
        calls = emu.calls()
    ok, record = _converged(emu, plan)
    return FaultRow(case, converged=not error and ok, error=error, registered_after=registered(record),
                    storage_after=storage_of(record), calls=calls, stderr=out.getvalue())


FAULT_HEADER = ["#", "plan", "call", "fault", "converged in the run", "left offline",
                "calls used (POST / all)", "re-run after fix converged"]


def render_fault_table(rows: list[FaultRow]) -> str:
    rows = sorted(rows, key=lambda r: r.case.index)
    converged = sum(r.converged for r in rows)
    offline = sum(r.left_offline == "YES" for r in rows)
    rerun = [r for r in rows if r.rerun_converged is not None]
    head = (
        "# Fault matrix\n\n"
        "Each case: a demo-seeded emulator, the provider driven as Pulumi drives it (Check, Diff, "
        "Create/Update; timeouts through an in-process Executor with a 0.5 s read timeout), one fault "
        "injected at the named call, then a re-run once the fault is gone. `left offline`: registered "
        "before the run and not registered after it.\n\n"
        f"{len(rows)} cases: {converged} converged in the run, {offline} left offline, "
        f"{sum(bool(r.rerun_converged) for r in rerun)} of {len(rerun)} failed runs converged on re-run.\n\n"
    )
    return head + markdown_table(FAULT_HEADER, [r.cells() for r in rows])
