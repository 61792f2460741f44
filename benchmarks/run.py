"""Benchmarks for issue 6: HTTP calls, round trips, downtime, fleet wall time, memory, import time.

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
import platform
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.harness import Emulator, start_emulator  # noqa: E402
from tests.calllog import by_number, edge_of, max_overlap, merged, offline_intervals, round_trips  # noqa: E402
from tests.engine import Engine, Options, ProviderCallError, ProviderProcess, StepGenerator  # noqa: E402

PIN = "123456"
DEFAULT_OUT = ROOT / "benchmarks" / "RESULTS.md"
QUICK_OUT = ROOT / "benchmarks" / "out" / "RESULTS-quick.md"
ENGINE_WORKERS = 4  # ENGINE_PROTOCOL.md: the provider process serves with 4 gRPC workers

# Targets (issue 6).
TARGET_READ_ROUND_TRIPS = 1           # per number: preview, refresh, no-op up
TARGET_DOWNTIME_RT = {"v25.0": 3, "v20.0": 2}
DOWNTIME_SLACK = 1.10                 # "+ 10%" on the time those round trips take
TARGET_FLEET_RATIO = 1.5              # fleet refresh/preview within 1.5x the floor
TARGET_IMPORT_OVERHEAD_MS = 150.0

SECTIONS = (
    "## Machine",
    "## Summary",
    "## Requests and round trips per operation",
    "## Downtime window",
    "## Fleet reads",
    "## Fleet cutover",
    "## Provider import time",
    "## HTTP client cost per request",
    "## What bounds the misses",
)


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


def http_client_cost(emu: Emulator, requests_per_variant: int) -> dict[str, Any]:
    """CPU and wall time per GET, in this process, for the HTTP stacks the provider could use.

    The provider's ``GraphClient`` sends every call through one ``requests.Session`` with the
    default ``trust_env=True``, which re-reads the proxy environment and looks for ~/.netrc on
    every request. Same emulator, no latency, the same GET of a number's /settings.
    """
    import requests
    import urllib3

    emu.reset("none")
    emu.set_latency(0)
    number = "4065000000001"
    add_numbers(emu, [number], "BR")
    url = f"{emu.url}/v25.0/{number}/settings"
    headers = {"Authorization": f"Bearer {emu.token}"}
    trusting = requests.Session()
    trusting.headers.update(headers)
    settled = requests.Session()
    settled.headers.update(headers)
    env = settled.merge_environment_settings(url, {}, None, None, None)
    settled.trust_env = False
    settled.proxies.update(env["proxies"] or {})
    settled.verify = env["verify"]
    pool = urllib3.PoolManager(headers=headers)
    variants = {
        "requests.Session, trust_env=True (the provider today)":
            lambda: trusting.get(url, timeout=(5.0, 30.0)).json(),
        "requests.Session, environment resolved once, trust_env=False":
            lambda: settled.get(url, timeout=(5.0, 30.0)).json(),
        "urllib3.PoolManager":
            lambda: json.loads(pool.request("GET", url, timeout=urllib3.Timeout(connect=5.0, read=30.0)).data),
    }
    out = []
    for name, call in variants.items():
        for _ in range(20):
            call()
        best: tuple[float, float] | None = None
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(requests_per_variant):
                call()
            sample = ((time.perf_counter() - wall) / requests_per_variant * 1000,
                      (time.process_time() - cpu) / requests_per_variant * 1000)
            best = sample if best is None or sample[1] < best[1] else best
        out.append({"name": name, "wall_ms": best[0], "cpu_ms": best[1]})
    trusting.close()
    settled.close()
    pool.clear()
    return {"requests": requests_per_variant, "variants": out}


IMPORT_SNIPPET = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _import_env(pycache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if pycache is not None:
        # Bytecode for every module goes to (and is read from) this directory only, so the
        # measurement can be warm without writing __pycache__ into the project tree.
        env["PYTHONPYCACHEPREFIX"] = pycache
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _import_seconds(stmt: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET.format(stmt=stmt)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _importtime(stmt: str, env: dict[str, str]) -> list[dict]:
    """``python -X importtime``: the import tree (post-order lines, two spaces per level)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", stmt], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    stack: list[dict] = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if not match:
            continue
        depth = (len(match.group(3)) - 1) // 2
        node = {"name": match.group(4), "self_us": int(match.group(1)), "cum_us": int(match.group(2)),
                "depth": depth, "children": []}
        while stack and stack[-1]["depth"] > depth:
            node["children"].insert(0, stack.pop())
        stack.append(node)
    return stack  # the roots, in import order


def _walk(nodes: list[dict], parent_added: bool, added: set[str], out: list[dict]) -> None:
    """The outermost third-party modules among ``added`` (each counted once, with its subtree)."""
    for node in nodes:
        mine = node["name"] in added and not _own(node["name"])
        if mine and not parent_added:
            out.append(node)
        _walk(node["children"], parent_added or mine, added, out)


def _own(name: str) -> bool:
    return name == "provider" or name.startswith("provider.")


def _flatten(nodes: list[dict]) -> list[dict]:
    out: list[dict] = []
    for node in nodes:
        out.append(node)
        out.extend(_flatten(node["children"]))
    return out


def _overhead(runs: int, env: dict[str, str]) -> dict[str, Any]:
    bare, full = "import pulumi", "import pulumi; import provider.resource"
    bare_s, full_s = [], []
    for _ in range(runs):
        bare_s.append(_import_seconds(bare, env))
        full_s.append(_import_seconds(full, env))
    return {"bare_ms": [v * 1000 for v in bare_s], "full_ms": [v * 1000 for v in full_s],
            "bare_median_ms": statistics.median(bare_s) * 1000, "full_median_ms": statistics.median(full_s) * 1000,
            "overhead_ms": (statistics.median(full_s) - statistics.median(bare_s)) * 1000}


def import_time(runs: int) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        warm = _import_env(pycache)
        for _ in range(2):  # fill the bytecode cache
            _import_seconds("import pulumi; import provider.resource", warm)
        result = _overhead(runs, warm)
        bare_tree = _importtime("import pulumi", warm)
        full_tree = _importtime("import pulumi; import provider.resource", warm)
    as_is = _overhead(runs, _import_env(None))
    added = {n["name"] for n in _flatten(full_tree)} - {n["name"] for n in _flatten(bare_tree)}
    roots: list[dict] = []
    _walk(full_tree, False, added, roots)
    packages: dict[str, float] = {}
    for node in roots:
        top = node["name"].split(".")[0]
        packages[top] = packages.get(top, 0.0) + node["cum_us"] / 1000
    own = [n for n in _flatten(full_tree) if _own(n["name"])]
    return {
        "runs": runs,
        **result,
        "as_is": as_is,
        "as_is_env": {"PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
                      "provider_pycache": (ROOT / "provider" / "__pycache__").is_dir()},
        "added_modules": len(added),
        "packages": sorted(({"name": k, "cum_ms": v} for k, v in packages.items()), key=lambda n: -n["cum_ms"])[:8],
        "contributors": [{"name": n["name"], "cum_ms": n["cum_us"] / 1000}
                         for n in sorted(roots, key=lambda n: -n["cum_us"])[:8]],
        "provider_self_ms": sum(n["self_us"] for n in own) / 1000,
        "provider_modules": sorted(({"name": n["name"], "self_ms": n["self_us"] / 1000, "cum_ms": n["cum_us"] / 1000}
                                    for n in own), key=lambda n: -n["cum_ms"]),
    }


# -- machine -----------------------------------------------------------------------------------------

def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _git(*args: str) -> str:
    """Read-only git queries (``--no-optional-locks``: never touches the index)."""
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=30, check=False)
    except OSError:
        return ""
    return done.stdout.rstrip() if done.returncode == 0 else ""


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dirty = [line[3:] for line in _git("status", "--porcelain", "--", "provider").splitlines() if len(line) > 3]
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "pulumi": _dist_version("pulumi"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD").strip() or "?",
        "provider_uncommitted": dirty,
        "load_start": loadavg(),
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version
    try:
        return version(name)
    except Exception:  # noqa: BLE001 - informational only
        return "?"


# -- the report --------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def cpu_text(cpu: dict[str, float | None]) -> str:
    return " / ".join("-" if cpu.get(k) is None else f"{cpu[k]:.2f}" for k in ("engine", "provider", "emulator"))


def per_worker_ms(op: dict[str, Any], size: int) -> float:
    """Wall time per number per engine worker, leaving out the first call (the provider's import)."""
    return (op["phase_s"] - (op["first_rpc_s"] or 0)) / size * ENGINE_WORKERS * 1000


def per_number_cpu(op: dict[str, Any], size: int) -> str:
    value = op["cpu_s"].get("provider_after_first_call")
    return "-" if value is None else f"{value / size * 1000:.1f}"


def _row(figure: str, measured: str, target: str, ok: bool, kind: str) -> dict[str, Any]:
    return {"figure": figure, "measured": measured, "target": target, "ok": bool(ok), "kind": kind}


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary rows: figure, measured, target, verdict."""
    rows: list[dict[str, Any]] = []
    latency = results["latency_ms"]
    for flow in results["single"]:
        version = flow["version"]
        for op in flow["ops"]:
            name = f"{version} {op['name']}"
            if op["name"].startswith(("no-op", "adopt", "preview (in sync)", "refresh")):
                rows.append(_row(f"{name}: mutating calls", str(op["mutating"]), "0", op["mutating"] == 0,
                                 "mutating"))
            if op["name"].startswith(("no-op", "preview", "refresh")):
                rows.append(_row(f"{name}: round trips ({op['calls']} calls)", str(op["round_trips_max"]),
                                 f"<= {TARGET_READ_ROUND_TRIPS}",
                                 op["round_trips_max"] <= TARGET_READ_ROUND_TRIPS, "read_rt"))
            down = op.get("downtime")
            if down:
                rt_target = TARGET_DOWNTIME_RT[version]
                ms_target = rt_target * latency * DOWNTIME_SLACK
                rows.append(_row(f"{name}: downtime round trips", str(down["round_trips"]), f"<= {rt_target}",
                                 down["round_trips"] <= rt_target, "downtime_rt"))
                rows.append(_row(f"{name}: downtime", f"{down['ms']:.1f} ms",
                                 f"<= {ms_target:.1f} ms ({rt_target} x {latency:g} ms + 10%)",
                                 down["ms"] <= ms_target, "downtime_ms"))
    fleet = results["fleet_reads"]
    size = fleet["size"]
    for op in fleet["ops"]:
        rows.append(_row(f"fleet of {size}, {op['name']}: mutating calls", str(op["mutating"]), "0",
                         op["mutating"] == 0, "mutating"))
        rows.append(_row(f"fleet of {size}, {op['name']}: round trips per number, max "
                         f"({op['calls_per_number']:.1f} calls per number)", str(op["round_trips_max"]),
                         f"<= {TARGET_READ_ROUND_TRIPS}", op["round_trips_max"] <= TARGET_READ_ROUND_TRIPS,
                         "read_rt"))
        if op["name"] in ("preview", "refresh"):
            rows.append(_row(f"fleet of {size}, {op['name']}: wall time of the provider calls vs floor "
                             f"{op['floor_s']:.2f} s", f"{op['phase_s']:.2f} s ({op['ratio_phase']:.2f}x)",
                             f"<= {TARGET_FLEET_RATIO}x floor", op["ratio_phase"] <= TARGET_FLEET_RATIO,
                             "fleet_ratio"))
            rows.append(_row(f"fleet of {size}, {op['name']}: wall time of the whole command "
                             "(with provider start-up) vs floor", f"{op['wall_s']:.2f} s ({op['ratio_wall']:.2f}x)",
                             f"<= {TARGET_FLEET_RATIO}x floor", op["ratio_wall"] <= TARGET_FLEET_RATIO,
                             "fleet_ratio_wall"))
    ms_target = 3 * latency * DOWNTIME_SLACK
    for cut in results["fleet_cutover"]:
        name = f"fleet cutover of {cut['numbers']}, maxConcurrentCutovers={cut['max_cutovers']}"
        rows.append(_row(f"{name}: most numbers offline at once", str(cut["max_offline"]),
                         f"<= {cut['max_cutovers']}", cut["max_offline"] <= cut["max_cutovers"], "max_offline"))
        rows.append(_row(f"{name}: downtime round trips (max)", str(cut["downtime_rt_max"]), "<= 3",
                         (cut["downtime_rt_max"] or 0) <= 3, "downtime_rt"))
        rows.append(_row(f"{name}: downtime, median", f"{cut['downtime_ms_median']:.1f} ms",
                         f"<= {ms_target:.1f} ms", cut["downtime_ms_median"] <= ms_target, "fleet_downtime_ms"))
        rows.append(_row(f"{name}: downtime, worst number", f"{cut['downtime_ms_max']:.1f} ms",
                         f"<= {ms_target:.1f} ms", cut["downtime_ms_max"] <= ms_target, "fleet_downtime_ms"))
    imp = results["imports"]
    rows.append(_row("provider import overhead over `import pulumi` (median, bytecode cached)",
                     f"{imp['overhead_ms']:.0f} ms", f"<= {TARGET_IMPORT_OVERHEAD_MS:.0f} ms",
                     imp["overhead_ms"] <= TARGET_IMPORT_OVERHEAD_MS, "import"))
    return rows


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    latency = results["latency_ms"]
    rows = results["summary"]
    out: list[str] = []
    w = out.append
    w("# Benchmark results (issue 6)\n")
    w(f"Mode: **{results['mode']}**, written by `{results['command']}`. Emulator latency "
      f"{latency:g} ms per request, emulator in its own process. The provider is driven as the Pulumi "
      f"engine drives it (`tests/engine.py`: each command with `--skip-preview`, one "
      f"`python -m pulumi.dynamic` process; {ENGINE_WORKERS} engine workers for fleets). Counts come from the emulator's call log. "
      "benchmarks/README.md describes the method. These are benchmark figures from one run on one "
      "machine, not timed tests.\n")
    if results["mode"] == "quick":
        w("**Quick mode**: with a few ms of latency and a small fleet, fixed costs (process start-up, "
          "the provider's import, per-call CPU) dominate, so the time verdicts below say little; the "
          "counts (calls, mutating calls, numbers offline at once, downtime round trips) still hold.\n")
    w("## Machine\n")
    w("| | |\n|---|---|")
    w(f"| date | {m['date']} |")
    w(f"| nproc | {m['nproc']} |")
    if m["cpu"]:
        w(f"| cpu | {m['cpu']} |")
    w(f"| python | {m['implementation']} {m['python']} |")
    w(f"| platform | {m['platform']} |")
    w(f"| pulumi SDK | {m['pulumi']} |")
    dirty = ", ".join(m["provider_uncommitted"]) or "none"
    w(f"| code | commit {m['commit']}; uncommitted files under provider/: {dirty} |")
    w(f"| load average (1/5/15 min) at start / end | {m['load_start']} / {m.get('load_end', '?')} |")
    w(f"| total benchmark time | {results['elapsed_s']:.0f} s |\n")

    passed = sum(r["ok"] for r in rows)
    w("## Summary\n")
    w(f"{passed} of {len(rows)} figures meet their target.\n")
    w("| figure | measured | target | result |\n|---|---|---|---|")
    for r in rows:
        w(f"| {r['figure']} | {r['measured']} | {r['target']} | {verdict(r['ok'])} |")
    w("")

    w("## Requests and round trips per operation\n")
    w("One number, one simulated CLI command each, in this order. *calls* are the HTTP requests the "
      "emulator served (Meta counts each one); *round trips* are sequential waits (overlapping calls "
      "merged). *API span* runs from the first request received to the last answer, on the emulator's "
      "clock; *command* is the whole simulated CLI command including the provider process start-up.\n")
    for flow in results["single"]:
        w(f"### {flow['version']}\n")
        w("| operation | calls | GET | mutating | round trips | API span ms | command s | calls by endpoint |")
        w("|---|---|---|---|---|---|---|---|")
        for op in flow["ops"]:
            endpoints = ", ".join(f"{k} x{v}" for k, v in op["by_endpoint"].items()) or "none"
            w(f"| {op['name']} | {op['calls']} | {op['reads']} | {op['mutating']} | {op['round_trips_max']} | "
              f"{op['api_span_ms']:.1f} | {op['wall_s']:.2f} | {endpoints} |")
        w(f"\nLive state at the end: `{json.dumps(flow['final_storage'])}`, platform {flow['final_platform']}.\n")

    w("## Downtime window\n")
    w("From deregister sent (`started` of the deregister call) to register acknowledged (`finished` "
      "of the register call). Round trips are the sequential calls inside the window. *Gaps* are the "
      "time between one answer and the next request reaching the emulator: the response and request "
      "travelling, and the provider's own work, while the number is offline.\n")
    w("| API | operation | downtime ms | round trips | target | result | calls in window | gaps ms |")
    w("|---|---|---|---|---|---|---|---|")
    for flow in results["single"]:
        version = flow["version"]
        rt_target = TARGET_DOWNTIME_RT[version]
        ms_target = rt_target * latency * DOWNTIME_SLACK
        for op in flow["ops"]:
            down = op.get("downtime")
            if not down:
                continue
            ok = down["round_trips"] <= rt_target and down["ms"] <= ms_target
            w(f"| {version} | {op['name']} | {down['ms']:.1f} | {down['round_trips']} | <= {rt_target} RT, "
              f"<= {ms_target:.1f} ms | {verdict(ok)} | {' -> '.join(down['calls'])} | "
              f"{', '.join(f'{g:.2f}' for g in down['gaps_ms'])} |")
    w("")

    fleet = results["fleet_reads"]
    w("## Fleet reads\n")
    w(f"{fleet['size']} numbers, registered and in sync (BR), v25.0, parallel={ENGINE_WORKERS}. "
      f"Floor = round trips per number x {latency:g} ms x {fleet['size']} / {ENGINE_WORKERS}. "
      "*provider calls* runs from the provider process being ready (after Configure) to the command's "
      "last answer; *command* adds the process start-up (spawn, GetPluginInfo, Configure). *first call* "
      "is the engine's first resource call, which also unpickles the provider and so imports "
      "`provider.resource` in the provider process. *CPU* is the CPU time each process spent in the "
      "command (engine = this benchmark process; provider = the whole provider process, start-up "
      "included; emulator); *provider CPU per number* counts the provider's CPU time after its first "
      "resource call. Peak RSS is the provider process's VmHWM at the end of the command.\n")
    w("| operation | calls | calls per number | round trips per number (mean / max) | mutating | floor s | "
      "provider calls s | ratio | command s | ratio | start-up s | first call s | CPU s engine / provider / emulator | "
      "provider CPU per number ms | peak RSS MiB |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for op in fleet["ops"]:
        w(f"| {op['name']} | {op['calls']} | {op['calls_per_number']:.2f} | "
          f"{op['round_trips_mean']:.2f} / {op['round_trips_max']} | "
          f"{op['mutating']} | {op['floor_s']:.2f} | {op['phase_s']:.2f} | {op['ratio_phase']:.2f}x | "
          f"{op['wall_s']:.2f} | {op['ratio_wall']:.2f}x | {op['startup_s']:.2f} | {op['first_rpc_s'] or 0:.2f} | "
          f"{cpu_text(op['cpu_s'])} | {per_number_cpu(op, fleet['size'])} | {(op['vm_hwm_kb'] or 0) / 1024:.1f} |")
    w("\nThe same fleet with **no injected latency**: what remains is the work of the three processes "
      f"(engine, provider, emulator) on {m['nproc']} CPUs, which every round trip above pays on top of "
      "the latency.\n")
    w("| operation | calls | provider calls s | first call s | per number per worker ms (after the first call) | "
      "command s | CPU s engine / provider / emulator | provider CPU per number ms |")
    w("|---|---|---|---|---|---|---|---|")
    for op in fleet["overhead"]:
        w(f"| {op['name']} | {op['calls']} | {op['phase_s']:.2f} | {op['first_rpc_s'] or 0:.2f} | "
          f"{per_worker_ms(op, fleet['size']):.1f} | {op['wall_s']:.2f} | {cpu_text(op['cpu_s'])} | "
          f"{per_number_cpu(op, fleet['size'])} |")
    w("")

    w("## Fleet cutover\n")
    w(f"Numbers changing region BR -> IN by update (deregister -> settings -> register, then a "
      f"read-back), v25.0, parallel={ENGINE_WORKERS}. *Most offline at once* is the largest overlap "
      "of the numbers' deregister-sent -> register-acknowledged windows in the call log. Floor = the "
      f"larger of N x 3 round trips x {latency:g} ms / maxConcurrentCutovers (the slots) and "
      f"N x round trips per number x {latency:g} ms / {ENGINE_WORKERS} (the engine workers). No target "
      "is set for the wall time; it is reported against that floor.\n")
    w("| maxConcurrentCutovers | numbers | cut over | calls | calls per number | round trips per number | "
      "provider calls s | command s | floor s (bound) | ratio | most offline at once | downtime median / p95 / max ms | "
      "CPU s engine / provider / emulator | peak RSS MiB |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cut in results["fleet_cutover"]:
        w(f"| {cut['max_cutovers']} | {cut['numbers']} | {cut['landed_in_IN']} | {cut['calls']} | "
          f"{cut['calls_per_number']:.2f} | {cut['round_trips_mean']:.2f} | {cut['phase_s']:.2f} | "
          f"{cut['wall_s']:.2f} | {cut['floor_s']:.2f} ({cut['floor_bound']}) | {cut['ratio_phase']:.2f}x | "
          f"{cut['max_offline']} | {ms(cut['downtime_ms_median'])} / {ms(cut['downtime_ms_p95'])} / "
          f"{ms(cut['downtime_ms_max'])} | "
          f"{cpu_text(cut['cpu_s'])} | {(cut['vm_hwm_kb'] or 0) / 1024:.1f} |")
    w("")

    imp = results["imports"]
    as_is = imp["as_is"]
    env = imp["as_is_env"]
    w("## Provider import time\n")
    w(f"A fresh interpreter per run, {imp['runs']} runs of each, alternating, timed inside the process "
      "around the import statements. *Bytecode cached* points `PYTHONPYCACHEPREFIX` at a warmed "
      "temporary directory (what a user's machine does after the first run). *As this environment "
      f"runs it* inherits the environment: PYTHONDONTWRITEBYTECODE={env['PYTHONDONTWRITEBYTECODE'] or 'unset'}, "
      f"provider/__pycache__ {'present' if env['provider_pycache'] else 'absent'}"
      f"{', so the project sources are compiled on every import' if not env['provider_pycache'] and env['PYTHONDONTWRITEBYTECODE'] else ''}.\n")
    w("| | `import pulumi` median ms | `import pulumi; import provider.resource` median ms | overhead ms | target | result |")
    w("|---|---|---|---|---|---|")
    w(f"| bytecode cached | {imp['bare_median_ms']:.0f} | {imp['full_median_ms']:.0f} | **{imp['overhead_ms']:.0f}** | "
      f"<= {TARGET_IMPORT_OVERHEAD_MS:.0f} | {verdict(imp['overhead_ms'] <= TARGET_IMPORT_OVERHEAD_MS)} |")
    w(f"| as this environment runs it | {as_is['bare_median_ms']:.0f} | {as_is['full_median_ms']:.0f} | "
      f"{as_is['overhead_ms']:.0f} | - | - |\n")
    w("Runs, bytecode cached, ms: `import pulumi` "
      f"{', '.join(f'{v:.0f}' for v in imp['bare_ms'])}; with the provider "
      f"{', '.join(f'{v:.0f}' for v in imp['full_ms'])}.\n")
    w(f"`python -X importtime` (one run, bytecode cached; the flag inflates absolute figures): "
      f"`provider.resource` brings in {imp['added_modules']} modules that a bare `import pulumi` does not. "
      "Third-party packages it adds, cumulative:\n")
    w("| package | cumulative ms |\n|---|---|")
    for c in imp["packages"]:
        w(f"| `{c['name']}` | {c['cum_ms']:.1f} |")
    w("\nThe provider's own modules (cumulative includes what each imports first):\n")
    w("| module | self ms | cumulative ms |\n|---|---|---|")
    for c in imp["provider_modules"]:
        w(f"| `{c['name']}` | {c['self_ms']:.1f} | {c['cum_ms']:.1f} |")
    w("")

    http = results["http_client"]
    w("## HTTP client cost per request\n")
    w(f"In the benchmark process, against the emulator with no latency: the same GET of a number's "
      f"`/settings`, {http['requests']} times per variant, best of 3 by CPU. The provider sends every "
      "call through a `requests.Session` with the default `trust_env=True`, which re-reads the proxy "
      "environment and looks for a .netrc file on every request.\n")
    w("| HTTP stack | wall ms per GET | CPU ms per GET |\n|---|---|---|")
    for v in http["variants"]:
        w(f"| {v['name']} | {v['wall_ms']:.2f} | {v['cpu_ms']:.2f} |")
    w("")

    w("## What bounds the misses\n")
    misses = [r for r in rows if not r["ok"]]
    if not misses:
        w("Every figure met its target in this run.\n")
    else:
        w("Missed in this run:\n")
        for r in misses:
            w(f"- {r['figure']}: {r['measured']} (target {r['target']})")
        w("")
    for note in results.get("analysis") or []:
        w(f"- {note}")
    w("")
    return "\n".join(out)


def analyse(results: dict[str, Any]) -> list[str]:
    """Notes on what bounds each missed figure, each backed by a number from this run."""
    notes: list[str] = []
    latency = results["latency_ms"]
    nproc = results["machine"]["nproc"]
    kinds_missed = {r["kind"] for r in results["summary"] if not r["ok"]}
    if "import" in kinds_missed:
        imp = results["imports"]
        pkgs = ", ".join(f"`{c['name']}` {c['cum_ms']:.0f} ms" for c in imp["packages"][:3])
        chain = {c["name"]: c["cum_ms"] for c in imp["provider_modules"]}
        light = sum(c["cum_ms"] for c in imp["provider_modules"]
                    if c["name"] in ("provider.config", "provider.inputs", "provider.errors", "provider.regions"))
        notes.append(
            f"Import overhead ({imp['overhead_ms']:.0f} ms): `provider.resource` imports `provider.executor` at "
            f"module level ({chain.get('provider.executor', 0):.0f} ms cumulative under -X importtime), which "
            f"imports `provider.client` ({chain.get('provider.client', 0):.0f} ms): `requests` and "
            f"`provider.models`, i.e. pydantic ({chain.get('provider.models', 0):.0f} ms). Largest packages "
            f"added: {pkgs}. What `provider.resource` needs to declare a resource and to run `check` "
            f"(config, inputs, errors, regions) costs about {light:.0f} ms. The stack program imports "
            "`provider.resource` on every preview and up and never makes an HTTP call; the provider process "
            "imports it again when it unpickles the provider.")
    if "downtime_ms" in kinds_missed:
        load = f"{results['machine']['load_start']} / {results['machine'].get('load_end', '?')}"
        for flow in results["single"]:
            rt_target = TARGET_DOWNTIME_RT[flow["version"]]
            for op in flow["ops"]:
                down = op.get("downtime")
                if not down or down["ms"] <= rt_target * latency * DOWNTIME_SLACK:
                    continue
                excess = down["ms"] - down["round_trips"] * latency
                gaps = sum(down["gaps_ms"])
                notes.append(
                    f"Downtime, {flow['version']} {op['name']}: {down['ms']:.1f} ms for {down['round_trips']} round "
                    f"trips, {excess:.1f} ms above {down['round_trips']} x {latency:g} ms. {gaps:.1f} ms of that lies "
                    "between an answer and the next request (transit, HTTP handling, the provider's work between "
                    f"steps) and {excess - gaps:.1f} ms inside the calls (the emulator's latency sleep overshooting "
                    f"and its own handling). Load average {load} on {nproc} CPUs. The calls are the planned ones; "
                    "nothing else runs in the window.")
    if "fleet_downtime_ms" in kinds_missed:
        cuts = [c for c in results["fleet_cutover"] if c["downtime_ms_max"] > 3 * latency * DOWNTIME_SLACK]
        notes.append(
            "Fleet-cutover downtime, worst number: "
            + "; ".join(f"maxConcurrentCutovers={c['max_cutovers']}: median {c['downtime_ms_median']:.1f} ms, "
                        f"95th percentile {c['downtime_ms_p95']:.1f} ms, worst {c['downtime_ms_max']:.1f} ms "
                        f"({c['downtime_over_target']} of {c['cutovers']} numbers over the target), still "
                        f"{c['downtime_rt_max']} round trips; for the worst number, "
                        f"{' + '.join(f'{g:.1f}' for g in c['downtime_worst']['gaps_ms'])} ms passed between an answer "
                        f"and the next request, and {c['downtime_worst']['in_calls_ms']:.1f} ms inside the calls "
                        "beyond the latency"
                        for c in cuts)
            + ". The calls are the planned three. The extra milliseconds are the provider waiting for a CPU or "
            "its GIL between calls while its other gRPC workers run their reads and cutovers (gaps), and the "
            f"emulator's handling and sleep overshoot under the same load (inside the calls), on {nproc} CPUs.")
    if kinds_missed & {"fleet_ratio", "fleet_ratio_wall"}:
        fleet = results["fleet_reads"]
        zero = {op["name"].split(",")[0]: op for op in fleet["overhead"]}
        for op in fleet["ops"]:
            if op["name"] not in ("preview", "refresh"):
                continue
            z = zero.get(op["name"])
            extra = ""
            if z:
                extra = (f" With no latency at all the same command's provider calls take {z['phase_s']:.2f} s, "
                         f"{per_worker_ms(z, fleet['size']):.1f} ms per number per worker after the first call "
                         f"(CPU engine / provider / emulator {cpu_text(z['cpu_s'])} s on {nproc} CPUs; the "
                         f"provider's share is {per_number_cpu(z, fleet['size'])} ms of CPU per number): that work "
                         f"is paid on top of the {latency:g} ms of every round trip, and the engine's side of it "
                         "is this Python harness, not Pulumi's Go engine.")
            per = per_worker_ms(op, fleet["size"])
            cpu = op["cpu_s"].get("provider_after_first_call")
            gil = ""
            if cpu is not None:
                cpu_ms = cpu / fleet["size"] * 1000
                gil = (f" After the first call each worker took {per:.1f} ms per number against "
                       f"{op['round_trips_mean'] * latency:.0f} ms of latency, {per - op['round_trips_mean'] * latency:.1f} ms "
                       f"more. The provider spent {cpu_ms:.1f} ms of CPU per number (two HTTP calls through "
                       "`requests`, two gRPC calls, parsing), and its 4 workers share one GIL, so a number's "
                       f"calls can wait up to {ENGINE_WORKERS} x {cpu_ms:.1f} = {ENGINE_WORKERS * cpu_ms:.1f} ms for it: "
                       "the provider's CPU per call bounds this figure, on top of the latency.")
            notes.append(
                f"Fleet {op['name']}: floor {op['floor_s']:.2f} s, provider calls {op['phase_s']:.2f} s "
                f"({op['ratio_phase']:.2f}x), whole command {op['wall_s']:.2f} s ({op['ratio_wall']:.2f}x). "
                f"Start-up took {op['startup_s']:.2f} s and the first resource call {op['first_rpc_s'] or 0:.2f} s "
                "(it unpickles the provider, importing `provider.resource`); the floor leaves both out."
                + gil + extra)
    if "read_rt" in kinds_missed:
        ops = [(f"{flow['version']} {op['name']}", op) for flow in results["single"] for op in flow["ops"]
               if op["name"].startswith(("no-op", "preview", "refresh"))]
        ops += [(f"fleet {op['name']}", op) for op in results["fleet_reads"]["ops"]]
        for name, op in ops:
            if op["round_trips_max"] <= TARGET_READ_ROUND_TRIPS:
                continue
            notes.append(
                f"Round trips, {name}: {op['numbers_over_one_round_trip']} of {op['numbers']} numbers took "
                f"{op['round_trips_max']} round trips with the same {op['calls_per_number']:.0f} calls per number. "
                "The provider sends a number's node and /settings reads concurrently (the settings read on a "
                f"pool thread); their start times were {ms(op['read_skew_ms_median'])} ms apart at the median and "
                f"{ms(op['read_skew_ms_max'])} ms at worst, so for those numbers the second read started after the "
                f"first was answered ({latency:g} ms). Most likely one of the two threads waited for a CPU or the "
                "GIL behind the other workers; it is not an extra call.")
    if kinds_missed & {"mutating", "downtime_rt", "max_offline"}:
        notes.append("A count target was missed (mutating calls, downtime round trips or numbers offline at once): "
                     "the per-operation tables show the calls made.")
    return notes


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
        for version, number in (("v25.0", "106540000000025"), ("v20.0", "106540000000020")):
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
