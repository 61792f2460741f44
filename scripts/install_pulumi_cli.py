"""Install the pulumi CLI that matches the pinned Python SDK into a directory of this project.

Used by ./scripts/up-local when `pulumi` is not on PATH: no system change and no root, only
Pulumi's own Automation API (`PulumiCommand.install`), which downloads Pulumi's installer script
and runs it with `--install-root ROOT --version VERSION`. On success it prints the directory to
put on PATH (ROOT/bin) and exits 0; on failure it prints one line on stderr, the cause, and exits 1.

`PulumiCommand.install` sets no network timeout of its own (urllib without `timeout`, the
installer run with no deadline), so this module bounds both: every socket operation times out
and the whole install has a deadline, so an offline or black-holed network fails quickly.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import signal
import socket
import subprocess
import sys
import urllib.error
from pathlib import Path
from types import FrameType
from typing import NoReturn

SOCKET_TIMEOUT_S = 20
DEADLINE_S = 600


class InstallTimedOut(Exception):
    """The whole install took longer than its deadline."""


def sdk_version() -> str:
    """The version of the pulumi SDK in this virtualenv: the CLI to install is the same release."""
    return importlib.metadata.version("pulumi")


def cause(error: BaseException) -> str:
    """One line that says why the install failed, with credentials (e.g. a proxy's) masked."""
    from provider.redact import redact

    if isinstance(error, InstallTimedOut):
        text = f"the install did not finish within {DEADLINE_S} s"
    elif isinstance(error, urllib.error.HTTPError):
        text = f"downloading Pulumi's installer failed: HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        reason = error.reason
        if isinstance(reason, socket.gaierror):
            text = f"cannot download Pulumi's installer: the host name does not resolve ({reason.strerror}); offline?"
        elif isinstance(reason, (TimeoutError, socket.timeout)):
            text = f"cannot download Pulumi's installer: no answer within {SOCKET_TIMEOUT_S} s; offline?"
        else:
            text = f"cannot download Pulumi's installer: {reason}"
    elif isinstance(error, (TimeoutError, socket.timeout)):
        text = f"the download stalled: no data for {SOCKET_TIMEOUT_S} s"
    elif isinstance(error, subprocess.CalledProcessError):
        output = error.output.decode(errors="replace") if isinstance(error.output, bytes) else str(error.output or "")
        last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
        text = f"Pulumi's installer exited {error.returncode}: {last}"
    else:
        text = f"{type(error).__name__}: {error}"
    return redact(" ".join(text.split()))


def install(root: Path, version: str) -> Path:
    """Install (or find, when already there) pulumi `version` under `root`; return its bin directory."""
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    def give_up(_signum: int, _frame: FrameType | None) -> NoReturn:
        raise InstallTimedOut()

    socket.setdefaulttimeout(SOCKET_TIMEOUT_S)
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(DEADLINE_S)
    try:
        command = PulumiCommand.install(root=str(root), version=VersionInfo.parse(version))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Path(command.command).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True,
                        help="install into ROOT/<version> (created when missing)")
    args = parser.parse_args(argv)
    version = sdk_version()
    try:
        bin_dir = install(args.root / f"v{version}", version)
    except Exception as error:  # noqa: BLE001 - every failure is reported as one line, the cause
        print(f"installing pulumi {version} into {args.root} failed: {cause(error)}", file=sys.stderr)
        return 1
    print(bin_dir)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root, for provider.redact
    sys.exit(main())
