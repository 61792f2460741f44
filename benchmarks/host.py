"""What the benchmarks measure outside the engine: the HTTP client's cost per request, the time
importing the provider adds to every Pulumi command, and the machine the figures come from.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emulator.harness import Emulator

ROOT = Path(__file__).resolve().parent.parent


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
    emu.add_number(id=number, pin="123456", settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}})
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
