"""benchmarks/run.py --quick runs end to end and reports every section.

Times are never asserted (CI machines are noisy); counts are, because they do not depend on speed:
HTTP calls, mutating calls, register/deregister calls inside the offline window, numbers offline
at once.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"


def sections() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    assert spec is not None and spec.loader is not None, RUN
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module.SECTIONS


# The module's fixture runs `benchmarks/run.py --quick` once: keep its tests on one pytest-xdist worker, or each
# worker that gets one of them runs it again.
pytestmark = pytest.mark.xdist_group("benchmarks")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    report, raw = out / "RESULTS.md", out / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--import-runs", "1", "--out", str(report), "--json", str(raw)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return report.read_text(encoding="utf-8"), json.loads(raw.read_text(encoding="utf-8"))


def ops_by_name(flow: dict) -> dict[str, dict]:
    return {op["name"]: op for op in flow["ops"]}


@pytest.mark.timeout(300)
def test_the_quick_report_has_every_section_and_a_verdict_per_figure(quick_run):
    report, results = quick_run
    for heading in sections():
        assert heading in report, heading
    assert "| nproc |" in report and "| python |" in report and "| date |" in report
    assert results["summary"], "no figures were evaluated"
    for row in results["summary"]:
        assert f"| {row['figure']} | {row['measured']} | {row['target']} | " in report


def test_a_number_in_sync_costs_no_mutating_call_and_one_read(quick_run):
    _, results = quick_run
    for flow in results["single"]:
        ops = ops_by_name(flow)
        for name in ("adopt (create, in sync)", "no-op up", "preview (in sync)", "refresh (in sync)"):
            assert ops[name]["mutating"] == 0, (flow["version"], name)
            assert ops[name]["by_endpoint"] == {"GET node": 1, "GET settings": 1}, (flow["version"], name)
    size = results["fleet_reads"]["size"]
    for op in results["fleet_reads"]["ops"] + results["fleet_reads"]["overhead"]:
        assert op["mutating"] == 0, op["name"]
        assert op["calls_per_number"] == 2, op["name"]
        assert op["numbers"] == size, op["name"]
        expected = {"create": size} if op["name"].startswith("adopt") else {"same": size}
        assert op["outcomes"] == expected, op["name"]


def test_the_offline_window_holds_only_the_planned_calls(quick_run):
    _, results = quick_run
    # v20.0 is retired: Meta (and the emulator) serve it as the oldest live version, /settings flow.
    expected = {"v25.0": ["POST deregister", "POST settings", "POST register"],
                "v20.0": ["POST deregister", "POST settings", "POST register"]}
    for flow in results["single"]:
        for name in ("enable (DEFAULT -> BR)", "change (BR -> IN)", "disable (IN -> DEFAULT)"):
            down = ops_by_name(flow)[name]["downtime"]
            assert down is not None, (flow["version"], name)
            assert down["calls"] == expected[flow["version"]], (flow["version"], name)
            assert down["round_trips"] <= len(expected[flow["version"]]), (flow["version"], name)


def test_a_fleet_cutover_never_has_more_numbers_offline_than_allowed(quick_run):
    _, results = quick_run
    cutovers = {cut["max_cutovers"]: cut for cut in results["fleet_cutover"]}
    assert set(cutovers) == {1, 4}
    for limit, cut in cutovers.items():
        assert cut["landed_in_IN"] == cut["numbers"], limit
        assert 1 <= cut["max_offline"] <= limit, limit
        assert cut["downtime_rt_max"] <= 3, limit
