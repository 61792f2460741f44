"""Benchmarks for issues 6 and 28: HTTP calls, round trips, downtime, fleet wall time, memory, import
time, and a fleet's reads against Meta's hourly limit (``limits.py``).

Everything goes through the provider process as the Pulumi engine drives it (``tests/engine.py``:
``python -m pulumi.dynamic`` over gRPC, the real pickled provider; each command measured with
``--skip-preview``, so one deployment in one fresh process) against the emulator running as a *subprocess* with injected latency, so that its
latency sleeps never share a GIL with the measuring process or the provider.

Counts (HTTP calls, round trips, numbers offline at once) come from the emulator's call log, whose
``started``/``finished`` stamps are on one clock. Round trips are the number of sequential waits:
the call intervals of one number are merged where they overlap (the concurrent node + /settings
reads of one read are one round trip).

    .venv/bin/python benchmarks/run.py                 # full run, writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --quick         # small and fast, writes benchmarks/out/RESULTS-quick.md

See benchmarks/README.md for what each figure means and its target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.host import http_client_cost, import_time, loadavg, machine  # noqa: E402
from benchmarks.limits import fleet_limits  # noqa: E402
from benchmarks.report import DOWNTIME_SLACK, ENGINE_WORKERS, SECTIONS, analyse, evaluate, render  # noqa: E402,F401
from emulator.harness import Emulator, start_emulator  # noqa: E402
from tests.calllog import by_number, edge_of, max_overlap, merged, offline_intervals, round_trips  # noqa: E402
from tests.engine import Engine, Options, ProviderCallError, ProviderProcess, StepGenerator  # noqa: E402

PIN = "123456"
DEFAULT_OUT = ROOT / "benchmarks" / "RESULTS.md"
QUICK_OUT = ROOT / "benchmarks" / "out" / "RESULTS-quick.md"

# -- the call log -----------------------------------------------------------------------------------

def label(call: dict) -> str:
    return f"{call['method']} {edge_of(call)}"


def is_mutating(call: dict) -> bool:
    return call["method"] != "GET"


def offline_windows(calls: list[dict]) -> dict[str, dict]:
    """Per number, its first offline interval (``tests.calllog.offline_intervals``: deregister sent
    -> register acknowledged) with the calls inside it, their round trips and the gaps between them."""
    windows = {}
    per_number = by_number(calls)
    for number, spans in offline_intervals(calls).items():
        start, end = spans[0]
        if end == float("inf"):
            continue
        inside = [c for c in per_number[number] if c["started"] >= start and (c["finished"] or 0) <= end]
        waits = merged(inside)
        windows[number] = {
            "start": start, "end": end,
            "ms": (end - start) * 1000,
            "round_trips": len(waits),
            "calls": [label(c) for c in sorted(inside, key=lambda c: c["started"])],
            "gaps_ms": [round((b[0] - a[1]) * 1000, 2) for a, b in zip(waits, waits[1:])],
        }
    return windows


def summarise(calls: list[dict]) -> dict[str, Any]:
    per = by_number(calls)
    rts = [round_trips(c) for c in per.values()]
    span = (max(c["finished"] or c["started"] for c in calls) - min(c["started"] for c in calls)) if calls else 0.0
    counts: dict[str, int] = {}
    for call in calls:
        counts[label(call)] = counts.get(label(call), 0) + 1
    # How far apart the two reads of one number started (they are sent concurrently).
    skews = []
    for own in per.values():
        gets = sorted(c["started"] for c in own if c["method"] == "GET")
        if len(gets) == 2:
            skews.append((gets[1] - gets[0]) * 1000)
    return {
        "calls": len(calls),
        "reads": sum(not is_mutating(c) for c in calls),
        "mutating": sum(is_mutating(c) for c in calls),
        "errors": sum((c["status"] or 0) >= 400 for c in calls),
        "numbers": len(per),
        "round_trips_max": max(rts) if rts else 0,
        "round_trips_mean": statistics.fmean(rts) if rts else 0.0,
        "numbers_over_one_round_trip": sum(r > 1 for r in rts),
        "read_skew_ms_median": statistics.median(skews) if skews else None,
        "read_skew_ms_max": max(skews) if skews else None,
        "calls_per_number": len(calls) / len(per) if per else 0.0,
        "api_span_ms": span * 1000,
        "by_endpoint": dict(sorted(counts.items())),
    }


# -- the engine, measured ----------------------------------------------------------------------------

class MeasuredProcess(ProviderProcess):
    """A provider process that records its start-up time and its RSS high-water mark at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        super().__init__(*args, **kwargs)
        self.ready_at = time.perf_counter()
        self.startup_s = self.ready_at - began
        self.closing_at: float | None = None
        self.vm_hwm_kb: int | None = None
        self.cpu_s: float | None = None
        self.cpu_after_first_s: float | None = None
        self.rpcs: list[tuple[str, float, float]] = []  # (method, began, ended), perf_counter seconds

    def _call(self, method: str, request: Any) -> Any:
        began = time.perf_counter()
        try:
            return super()._call(method, request)
        finally:
            self.rpcs.append((method, began, time.perf_counter()))
            if self.cpu_after_first_s is None:
                self.cpu_after_first_s = cpu_seconds(self.proc.pid)

    def close(self) -> None:
        self.closing_at = time.perf_counter()
        self.vm_hwm_kb = vm_hwm_kb(self.proc.pid)
        self.cpu_s = cpu_seconds(self.proc.pid)
        super().close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a live process, from /proc/<pid>/stat."""
    if pid is None:
        return None
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kb(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.M)
    return int(match.group(1)) if match else None


class BenchEngine(Engine):
    """``tests.engine.Engine`` with measured processes and a parallel preview.

    Every command is measured with ``--skip-preview`` (one deployment, one process): ``pulumi up``
    and ``pulumi refresh`` without it first run a preview deployment that makes the same reads
    again. The engine sends Check/Diff one resource at a time unless ``PULUMI_PARALLEL_DIFF`` is
    set; ``preview(parallel=N)`` plays that setting, planning N resources at once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_process: MeasuredProcess | None = None

    def process(self, config: dict[str, str] | None = None) -> ProviderProcess:
        self.last_process = MeasuredProcess(dict(self.config if config is None else config), self.env)
        return self.last_process

    def preview(self, program: dict[str, dict[str, Any]], *, parallel: int = 1, **kw: Any) -> dict[str, str]:
        if parallel <= 1:
            return super().preview(program, **kw)
        with self._command():
            proc = self._start(self.config)
            state = dict(self.state)
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                ops = dict(zip(program, pool.map(
                    lambda n: StepGenerator(self, proc, state).plan(n, program[n], Options()).op, program)))
        ops.update({name: "delete" for name in self.state if name not in program})
        return ops


@dataclass
class Op:
    """One simulated CLI command and what the emulator saw."""

    name: str
    wall_s: float
    startup_s: float
    phase_s: float
    vm_hwm_kb: int | None
    calls: list[dict] = field(repr=False)
    result: Any = field(default=None, repr=False)
    first_rpc_s: float | None = None
    rpc_count: int = 0
    cpu: dict[str, float | None] = field(default_factory=dict)

    @property
    def outcomes(self) -> dict[str, int]:
        """What the engine made of each resource: same, create, update, drift, ... (a count each)."""
        counts: dict[str, int] = {}
        if isinstance(self.result, dict):
            for step in self.result.values():
                kind = getattr(step, "op", step)
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "wall_s": self.wall_s, "startup_s": self.startup_s, "phase_s": self.phase_s,
                "first_rpc_s": self.first_rpc_s, "rpcs": self.rpc_count, "cpu_s": self.cpu,
                "outcomes": self.outcomes,
                "vm_hwm_kb": self.vm_hwm_kb, **summarise(self.calls)}


def _raise_on_errors(name: str, result: Any) -> None:
    if isinstance(result, dict):
        bad = [step for step in result.values() if getattr(step, "op", None) == "error"]
        if bad:
            raise RuntimeError(f"{name}: {len(bad)} resource(s) failed; first:\n{bad[0].error}")


def measure(emu: Emulator, engine: BenchEngine, name: str, action: Callable[[], Any]) -> Op:
    emu.clear_calls()
    emu_pid = getattr(getattr(emu, "_process", None), "pid", None)
    emu_cpu = cpu_seconds(emu_pid)
    own_cpu = time.process_time()
    began = time.perf_counter()
    try:
        result = action()
    except ProviderCallError as exc:
        raise RuntimeError(f"{name} failed: {exc}\n{engine.last_stderr}") from None
    wall = time.perf_counter() - began
    own_cpu = time.process_time() - own_cpu
    emu_after = cpu_seconds(emu_pid)
    _raise_on_errors(name, result)
    proc = engine.last_process
    assert proc is not None and proc.closing_at is not None
    calls = [c for c in emu.calls() if c.get("finished") is not None or c.get("status") is not None]
    first = min(proc.rpcs, key=lambda r: r[1]) if proc.rpcs else None
    op = Op(name, wall, proc.startup_s, proc.closing_at - proc.ready_at, proc.vm_hwm_kb, calls, result)
    # The first resource call unpickles the provider, which imports provider.resource in the process.
    op.first_rpc_s = (first[2] - first[1]) if first else None
    op.rpc_count = len(proc.rpcs)
    op.cpu = {"engine": own_cpu, "provider": proc.cpu_s,
              "provider_after_first_call": (proc.cpu_s - proc.cpu_after_first_s)
              if proc.cpu_s is not None and proc.cpu_after_first_s is not None else None,
              "emulator": (emu_after - emu_cpu) if emu_cpu is not None and emu_after is not None else None}
    return op


def engine_for(emu: Emulator, version: str, max_cutovers: int = 1) -> BenchEngine:
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    return BenchEngine(
        {"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url,
         "whatsapp:apiVersion": version, "whatsapp:maxConcurrentCutovers": str(max_cutovers)},
        env={"NO_PROXY": no_proxy, "no_proxy": no_proxy},
    )


def storage(region: str) -> dict:
    if region == "DEFAULT":
        return {"storage_configuration": {"status": "DEFAULT"}}
    return {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region}}


def add_numbers(emu: Emulator, ids: list[str], region: str) -> None:
    for number in ids:
        emu.add_number(id=number, pin=PIN, settings=storage(region))


def program(ids: list[str], region: str) -> dict[str, dict[str, Any]]:
    return {number: {"phone_number_id": number, "region": region, "pin": PIN} for number in ids}


def fleet_ids(prefix: str, size: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(size)]


# -- sections ---------------------------------------------------------------------------------------

def single_number(emu: Emulator, version: str, number: str, latency_ms: float) -> dict[str, Any]:
    """adopt, no-op up, preview, refresh, enable, change, disable for one number on one API version."""
    emu.reset("none")
    emu.set_latency(latency_ms)
    add_numbers(emu, [number], "DEFAULT")
    engine = engine_for(emu, version)
    ops: list[Op] = []

    def up(region: str) -> Callable[[], Any]:
        return lambda: engine.up(program([number], region), skip_preview=True)

    ops.append(measure(emu, engine, "adopt (create, in sync)", up("DEFAULT")))
    ops.append(measure(emu, engine, "no-op up", up("DEFAULT")))
    ops.append(measure(emu, engine, "preview (in sync)", lambda: engine.preview(program([number], "DEFAULT"))))
    ops.append(measure(emu, engine, "refresh (in sync)", lambda: engine.refresh(skip_preview=True)))
    ops.append(measure(emu, engine, "preview (BR, a change)", lambda: engine.preview(program([number], "BR"))))
    ops.append(measure(emu, engine, "enable (DEFAULT -> BR)", up("BR")))
    ops.append(measure(emu, engine, "change (BR -> IN)", up("IN")))
    ops.append(measure(emu, engine, "disable (IN -> DEFAULT)", up("DEFAULT")))
    records = []
    for op in ops:
        rec = op.record()
        windows = offline_windows(op.calls)
        rec["downtime"] = windows.get(number)
        records.append(rec)
    final = emu.number(number)
    return {"version": version, "number": number, "ops": records,
            "final_storage": final["settings"]["storage_configuration"], "final_platform": final["platform_type"]}


def fleet_reads(emu: Emulator, size: int, latency_ms: float) -> dict[str, Any]:
    emu.reset("none")
    emu.set_latency(latency_ms)
    ids = fleet_ids("2065", size)
    add_numbers(emu, ids, "BR")
    engine = engine_for(emu, "v25.0")
    prog = program(ids, "BR")
    ops = [
        measure(emu, engine, "adopt (create, in sync)",
                lambda: engine.up(prog, parallel=ENGINE_WORKERS, skip_preview=True)),
        measure(emu, engine, "no-op up", lambda: engine.up(prog, parallel=ENGINE_WORKERS, skip_preview=True)),
        measure(emu, engine, "preview", lambda: engine.preview(prog, parallel=ENGINE_WORKERS)),
        measure(emu, engine, "refresh", lambda: engine.refresh(parallel=ENGINE_WORKERS, skip_preview=True)),
        measure(emu, engine, "refresh --preview-only",
                lambda: engine.refresh(preview_only=True, parallel=ENGINE_WORKERS)),
    ]
    records = []
    for op in ops:
        rec = op.record()
        rec["floor_s"] = rec["round_trips_mean"] * latency_ms / 1000 * size / ENGINE_WORKERS
        rec["ratio_phase"] = rec["phase_s"] / rec["floor_s"] if rec["floor_s"] else None
        rec["ratio_wall"] = rec["wall_s"] / rec["floor_s"] if rec["floor_s"] else None
        records.append(rec)
    # The same commands with no injected latency: what is left is the CPU and IPC cost of the
    # engine, the provider and the emulator, which adds to every round trip above.
    emu.set_latency(0)
    overhead = [
        measure(emu, engine, "preview, 0 ms latency", lambda: engine.preview(prog, parallel=ENGINE_WORKERS)).record(),
        measure(emu, engine, "refresh, 0 ms latency",
                lambda: engine.refresh(parallel=ENGINE_WORKERS, skip_preview=True)).record(),
    ]
    emu.set_latency(latency_ms)
    return {"size": size, "ops": records, "overhead": overhead}


def fleet_cutover(emu: Emulator, size: int, latency_ms: float, max_cutovers: int) -> dict[str, Any]:
    emu.reset("none")
    emu.set_latency(latency_ms)
    ids = fleet_ids(f"30{max_cutovers}5", size)
    add_numbers(emu, ids, "BR")
    engine = engine_for(emu, "v25.0", max_cutovers)
    engine.up(program(ids, "BR"), parallel=ENGINE_WORKERS, skip_preview=True)  # adopt: puts the fleet in state
    op = measure(emu, engine, f"cutover BR -> IN, maxConcurrentCutovers={max_cutovers}",
                 lambda: engine.up(program(ids, "IN"), parallel=ENGINE_WORKERS, skip_preview=True))
    rec = op.record()
    windows = offline_windows(op.calls)
    downtimes = sorted(w["ms"] for w in windows.values())
    rec["cutovers"] = len(windows)
    rec["max_offline"] = max_overlap(offline_intervals(op.calls))
    rec["downtime_ms_median"] = statistics.median(downtimes) if downtimes else None
    rec["downtime_ms_max"] = downtimes[-1] if downtimes else None
    rec["downtime_rt_max"] = max((w["round_trips"] for w in windows.values()), default=None)
    rec["downtime_ms_p95"] = downtimes[int(0.95 * (len(downtimes) - 1))] if downtimes else None
    rec["downtime_over_target"] = sum(d > 3 * latency_ms * DOWNTIME_SLACK for d in downtimes)
    worst = max(windows.values(), key=lambda w: w["ms"], default=None)
    rec["downtime_worst"] = None if worst is None else {
        "ms": worst["ms"], "calls": worst["calls"], "gaps_ms": worst["gaps_ms"],
        "in_calls_ms": worst["ms"] - sum(worst["gaps_ms"]) - worst["round_trips"] * latency_ms}
    rec["max_cutovers"] = max_cutovers
    # The two bounds: cutovers are serialised by the slots (3 round trips each), and each engine
    # worker runs every call of its numbers one after the other.
    by_slots = size * 3 * latency_ms / 1000 / max_cutovers
    by_workers = size * rec["round_trips_mean"] * latency_ms / 1000 / ENGINE_WORKERS
    rec["floor_s"] = max(by_slots, by_workers)
    rec["floor_bound"] = "cutover slots" if by_slots >= by_workers else "engine workers"
    rec["ratio_phase"] = rec["phase_s"] / rec["floor_s"]
    landed = [n for n in emu.numbers() if n["id"] in set(ids)]
    rec["landed_in_IN"] = sum(n["settings"]["storage_configuration"].get("data_localization_region") == "IN"
                              and n["platform_type"] == "CLOUD_API" for n in landed)
    return rec


# -- main --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small fleet (10), 5 ms latency, 3 import runs; writes benchmarks/out/RESULTS-quick.md "
                             "unless --out is given")
    parser.add_argument("--out", type=Path, help=f"the Markdown report (default {DEFAULT_OUT.relative_to(ROOT)}; "
                                                   f"--quick: {QUICK_OUT.relative_to(ROOT)})")
    parser.add_argument("--json", type=Path, help="also write the raw figures as JSON here")
    parser.add_argument("--latency-ms", type=float, help="injected latency per request (default 50; --quick 5)")
    parser.add_argument("--fleet", type=int, help="fleet size for reads and cutovers (default 200; --quick 10)")
    parser.add_argument("--limit-fleet", type=int,
                        help="numbers read against the hourly limit, in 10 accounts (default 1000; --quick 100 in 4)")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import variant (default 7; --quick 3)")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="measure nothing: render the report again from figures saved with --json")
    args = parser.parse_args(argv)

    if args.from_json:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
        out = args.out or (QUICK_OUT if results["mode"] == "quick" else DEFAULT_OUT)
        results["summary"] = evaluate(results)
        results["analysis"] = analyse(results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(results), encoding="utf-8")
        print(f"wrote {out} from {args.from_json}", file=sys.stderr)
        return 0

    latency = args.latency_ms if args.latency_ms is not None else (5.0 if args.quick else 50.0)
    size = args.fleet or (10 if args.quick else 200)
    runs = args.import_runs or (3 if args.quick else 7)
    limit_size = args.limit_fleet or (100 if args.quick else 1000)
    limit_accounts = 4 if args.quick else 10
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    command = "benchmarks/run.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))

    began = time.perf_counter()
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "latency_ms": latency, "fleet_size": size,
                               "command": command, "machine": machine()}

    def step(text: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {text}", file=sys.stderr, flush=True)

    emu = start_emulator(seed="none", latency_ms=latency, subprocess=True)
    try:
        step(f"emulator subprocess at {emu.url}, latency {latency:g} ms")
        results["single"] = []
        for version, number in (("v25.0", "106540000000025"),):
            step(f"single number, {version}")
            results["single"].append(single_number(emu, version, number, latency))
        step(f"fleet reads, {size} numbers")
        results["fleet_reads"] = fleet_reads(emu, size, latency)
        results["fleet_cutover"] = []
        for max_cutovers in (1, 4):
            step(f"fleet cutover, {size} numbers, maxConcurrentCutovers={max_cutovers}")
            rec = fleet_cutover(emu, size, latency, max_cutovers)
            rec["numbers"] = size
            results["fleet_cutover"].append(rec)
        step(f"fleet reads against the hourly limit, {limit_size} numbers in {limit_accounts} accounts")
        results["fleet_limits"] = fleet_limits(emu, engine_for(emu, "v25.0"), limit_size, limit_accounts, latency)
        step("HTTP client cost per request")
        results["http_client"] = http_client_cost(emu, 100 if args.quick else 300)
    finally:
        emu.stop()
    step(f"import time, {runs} runs each")
    results["imports"] = import_time(runs)
    results["elapsed_s"] = time.perf_counter() - began
    results["machine"]["load_end"] = loadavg()
    results["summary"] = evaluate(results)
    results["analysis"] = analyse(results)

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results), encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    missed = [r for r in results["summary"] if not r["ok"]]
    step(f"wrote {out}: {len(results['summary']) - len(missed)} of {len(results['summary'])} figures meet their target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
