"""policy/.venv: the CrossGuard pack's own virtualenv (pulumi-policy pins protobuf 5.x; the project pins 6.x).

Built from policy/requirements.txt once and rebuilt only when that file (or the Python) changes, beside
the final place and then moved in. ``./scripts/test`` runs this module before pytest
(``python -m tests.project.policy_venv``), so building it is set-up, not test time;
``tests/project/test_policy_pack.py`` calls ``ensure_pack_venv`` too, for a run that skipped the script.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy"
VENV = PACK / ".venv"
STAMP = VENV / "requirements.sha256"


def _requirements_digest() -> str:
    text = (PACK / "requirements.txt").read_bytes() + sys.version.encode()
    return hashlib.sha256(text).hexdigest()


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_pack_venv() -> Path:
    """policy/.venv holding exactly policy/requirements.txt; built beside it, then moved in place."""
    digest = _requirements_digest()
    if STAMP.is_file() and STAMP.read_text().strip() == digest and _venv_python(VENV).exists():
        return _venv_python(VENV)
    shutil.rmtree(VENV, ignore_errors=True)
    build = PACK / f".venv-build-{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    steps = [[sys.executable, "-m", "venv", str(build)],
             [str(_venv_python(build)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "-r", str(PACK / "requirements.txt")]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            shutil.rmtree(build, ignore_errors=True)
            raise RuntimeError(f"building the policy pack's virtualenv failed: {step}\n{done.stderr}")
    (build / STAMP.name).write_text(digest)
    try:
        build.rename(VENV)  # python -m works from a moved venv: nothing in it names its own path
    except OSError:  # another run got there first
        shutil.rmtree(build, ignore_errors=True)
    return _venv_python(VENV)


if __name__ == "__main__":
    print(f"policy pack virtualenv: {ensure_pack_venv()}", file=sys.stderr)
