"""The benchmark report: each figure against its target (issue 6), the Markdown, and what bounds
the misses. Pure functions of the results dict that ``benchmarks/run.py`` measures (or loads from
``--json``).
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks import limits

ENGINE_WORKERS = limits.ENGINE_THREADS  # docs/engine.md, "The process": one constant, in limits.py

# Targets (issue 6).
TARGET_READ_ROUND_TRIPS = 1           # per number: preview, refresh, no-op up
TARGET_DOWNTIME_RT = {"v25.0": 3}
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
    "## Fleet reads against Meta's hourly limit",
    "## Provider import time",
    "## HTTP client cost per request",
    "## What bounds the misses",
)


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
    if results.get("fleet_limits"):
        rows += [_row(figure, measured, target, ok, "hourly_limit_calls")
                 for figure, measured, target, ok in limits.evaluate(results["fleet_limits"])]
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

    if results.get("fleet_limits"):
        out.extend(limits.render(results["fleet_limits"], latency))

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
    if "hourly_limit_calls" in kinds_missed:
        notes.append("Calls per number against Meta's hourly limit: the fleet-limit table shows which calls "
                     "(listing pages, node reads, settings) each command made.")
    if kinds_missed & {"mutating", "downtime_rt", "max_offline"}:
        notes.append("A count target was missed (mutating calls, downtime round trips or numbers offline at once): "
                     "the per-operation tables show the calls made.")
    return notes
