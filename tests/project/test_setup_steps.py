"""./scripts/test says each set-up step on stderr before it runs it (up-local's own lines are
checked where it runs for real, tests/project/test_up_local.py).

The script runs for real in a copy of the project's scripts whose Python is a stub: each program
the script starts writes ``ran: ARGS`` to stderr, so the order of what is said and what runs is seen.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUB = """#!/bin/sh
echo "ran: $*" >&2
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
fi
"""


def scripts_with_a_stub_python(tmp_path: Path) -> dict[str, str]:
    """Copy scripts/test and scripts/venv.sh into tmp_path; the environment that runs them with the stub."""
    (tmp_path / "scripts").mkdir()
    for name in ("test", "venv.sh"):
        shutil.copy(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    stub = tmp_path / "python-stub"
    stub.write_text(STUB)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHON": str(stub)}


def test_scripts_test_says_each_set_up_step_on_stderr_before_running_it(tmp_path: Path) -> None:
    env = scripts_with_a_stub_python(tmp_path)
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "test"), "-k", "nothing"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    ran = [i for i, line in enumerate(lines) if line.startswith("ran: ")]
    assert [lines[i] for i in ran] == [
        "ran: -m venv .venv",
        "ran: -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt",
        "ran: -m mypy",
        "ran: -m tests.project.policy_venv",
        "ran: -m tests.emulator.npm_client",
        "ran: -m pytest -n 4 --dist loadgroup -k nothing",
    ]
    said = [lines[i - 1] for i in ran]
    assert all(line.startswith("test: ") for line in said), said
    assert said[0].startswith("test: creating .venv") and said[1].startswith("test: pip: bringing .venv")
    assert said[2].startswith("test: type-checking") and said[3].startswith("test: policy/.venv")
    assert said[4].startswith("test: .npm-clients/") and said[5] == "test: pytest, 4 workers"


def test_pip_runs_again_only_when_the_requirement_files_changed(tmp_path: Path) -> None:
    """Every up-local and test run paid pip's start-up to learn that nothing was missing."""
    env = scripts_with_a_stub_python(tmp_path)
    (tmp_path / "requirements.txt").write_text("pulumi==3.272.0\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest==9.0.3\n")

    def pip_ran() -> bool:
        done = subprocess.run(["bash", str(tmp_path / "scripts" / "test"), "-k", "nothing"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return "ran: -m pip install" in done.stderr

    assert pip_ran(), "a new .venv gets its requirements"
    assert not pip_ran(), "unchanged requirements: pip is not started"
    (tmp_path / "requirements.txt").write_text("pulumi==3.273.0\n")
    assert pip_ran(), "a changed pin (in either file) runs pip again"
