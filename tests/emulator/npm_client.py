"""The npm client the emulator is tested against (whatsapp-business, pinned with every dependency
by tests/emulator/npm/package-lock.json), installed into .npm-clients/ (ignored by git).

`./scripts/test` runs this module before pytest (`python -m tests.emulator.npm_client`), so the
install is set-up, not test time; it reinstalls only when the lock file changes, and needs the
npm registry only then. It never fails the set-up: when node, npm or the registry is missing it
says why on one line, and the client test fails with the same reason instead of being skipped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "emulator" / "npm"
TARGET = ROOT / ".npm-clients"
STAMP = TARGET / "package-lock.sha256"
PACKAGE = "whatsapp-business"


def _digest() -> str:
    return hashlib.sha256((SOURCE / "package.json").read_bytes()
                          + (SOURCE / "package-lock.json").read_bytes()).hexdigest()


def installed() -> Path | None:
    """node_modules holding exactly the pinned packages, or None."""
    modules = TARGET / "node_modules"
    if STAMP.is_file() and STAMP.read_text().strip() == _digest() and (modules / PACKAGE / "package.json").is_file():
        return modules
    return None


def ensure_installed() -> tuple[Path | None, str]:
    """(node_modules, "") once installed; (None, why not) when it cannot be."""
    modules = installed()
    if modules is not None:
        return modules, ""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None, f"{PACKAGE} cannot be installed: node and npm must be on PATH (found node={node}, npm={npm})"
    TARGET.mkdir(exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(SOURCE / name, TARGET / name)
    STAMP.unlink(missing_ok=True)
    # `npm ci` installs exactly the lock file's versions and checks each package's integrity hash;
    # --ignore-scripts: no package runs code at install time.
    result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                            cwd=TARGET, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        return None, f"{PACKAGE} could not be installed by `npm ci` in {TARGET} (exit {result.returncode}): {last}"
    STAMP.write_text(_digest() + "\n")
    return TARGET / "node_modules", ""


def main() -> int:
    if installed() is not None:
        return 0
    print(f"installing {PACKAGE} (npm, pinned by tests/emulator/npm/package-lock.json) into .npm-clients/",
          file=sys.stderr)
    _, why = ensure_installed()
    if why:
        print(f"warning: {why}; tests/emulator/test_whatsapp_business_npm.py will fail", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
