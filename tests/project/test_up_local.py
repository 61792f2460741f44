"""./scripts/up-local on a machine without the pulumi CLI: the install attempt, its failure, the plan.

The script runs for real (its own emulator on 127.0.0.1:8787, state in tmp_path) with `pulumi`
kept off PATH. The install goes through Pulumi's Automation API; it is made to fail the way an
offline machine fails by pointing HTTPS at a closed local port (as a dead proxy), so the test
behaves the same on a machine that happens to be online.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from tests.matching import must_match

ROOT = Path(__file__).resolve().parents[2]
UP_LOCAL = ROOT / "scripts" / "up-local"
sys.path.insert(0, str(ROOT / "scripts"))
import install_pulumi_cli  # noqa: E402  (scripts/ is not a package)

# pytest-xdist: keep these tests on one worker: they run scripts/up-local, whose emulator listens on the fixed port 8787.
pytestmark = pytest.mark.xdist_group("port-8787")

# The script's whole run when the install fails: venv check, emulator start, install attempt, plan.
UP_LOCAL_BUDGET_S = 120


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_up_local(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(ROOT / ".venv" / "bin"), "/usr/bin", "/bin"])
    if shutil.which("pulumi", path=path):
        pytest.skip("pulumi is installed in /usr/bin or /bin, so it cannot be kept off PATH")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WHATSAPP_", "PULUMI_")) and k.lower() not in {
               "https_proxy", "http_proxy", "all_proxy", "no_proxy"}}
    env.update(PATH=path, UP_LOCAL_STATE_DIR=str(tmp_path / "local-state"), HOME=str(tmp_path / "home"))
    env["HTTPS_PROXY"] = f"http://127.0.0.1:{_closed_port()}"
    return subprocess.run([str(UP_LOCAL), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=UP_LOCAL_BUDGET_S + 60, check=False)


@pytest.fixture
def free_port_8787():
    if _port_busy(8787):
        pytest.skip("port 8787 is in use on this machine")


def _assert_shows_the_plan_and_stops_its_emulator(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 3, done.stdout + done.stderr
    assert "the pulumi CLI is missing" in done.stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in done.stderr and "brew install pulumi/tap/pulumi" in done.stderr
    assert "WhatsApp Local Storage plan for stack local" in done.stdout
    assert "calls:     settings(IN) -> register" in done.stdout
    assert not _port_busy(8787), "up-local left its emulator running"


def test_the_pinned_sdk_is_the_cli_version_up_local_installs():
    pinned = must_match(re.search(r"^pulumi==(\S+)", (ROOT / "requirements.txt").read_text(), re.M),
                        "the pulumi pin").group(1)
    assert install_pulumi_cli.sdk_version() == pinned == importlib.metadata.version("pulumi")


def test_offline_up_local_tries_to_install_the_cli_says_why_it_failed_and_shows_the_plan(tmp_path, free_port_8787):
    assert os.access(UP_LOCAL, os.X_OK), "scripts/up-local must be executable"
    started = time.monotonic()
    done = run_up_local(tmp_path)
    elapsed = time.monotonic() - started
    version = install_pulumi_cli.sdk_version()
    cli_root = tmp_path / "local-state" / "cli"
    assert f"installing the release that matches the SDK into {cli_root}" in done.stdout
    failure = [line for line in done.stderr.splitlines() if line.startswith(f"installing pulumi {version} ")]
    assert len(failure) == 1, done.stderr
    assert f"into {cli_root} failed: cannot download Pulumi's installer: " in failure[0]
    assert "Connection refused" in failure[0]
    _assert_shows_the_plan_and_stops_its_emulator(done)
    assert not (cli_root / f"v{version}" / "bin" / "pulumi").exists()
    assert elapsed < UP_LOCAL_BUDGET_S, f"up-local took {elapsed:.0f} s to give up"


def test_an_install_failure_never_prints_proxy_credentials():
    error = urllib.error.URLError(OSError("Tunnel connection failed via http://ops:proxy-password-1234@proxy:3128"))
    text = install_pulumi_cli.cause(error)
    assert "proxy-password-1234" not in text
    assert "Tunnel connection failed via http://***@proxy:3128" in text


def test_no_install_keeps_the_old_path_install_instructions_the_plan_and_exit_3(tmp_path, free_port_8787):
    done = run_up_local(tmp_path, "--no-install")
    assert "installing" not in done.stdout + done.stderr
    # set-up says what it does, one line per step
    # (pip itself runs only when the requirement files changed: either way the step is said)
    assert re.search(r"^up-local: pip: (bringing|\.venv already holds) ", done.stderr, re.M), done.stderr
    assert "up-local: starting the emulator with the demo numbers on 127.0.0.1:8787" in done.stderr
    assert not (tmp_path / "local-state" / "cli").exists()
    _assert_shows_the_plan_and_stops_its_emulator(done)


def test_an_unknown_argument_is_a_usage_error_before_anything_starts(tmp_path):
    done = run_up_local(tmp_path, "--yes")
    assert done.returncode == 2
    assert "unknown argument: --yes" in done.stderr
    assert not (tmp_path / "local-state").exists()


def test_up_local_refuses_to_start_when_port_8787_is_taken(tmp_path):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8787))
        except OSError:
            pytest.skip("port 8787 is in use on this machine")
        sock.listen()
        done = run_up_local(tmp_path)
    assert done.returncode == 1
    assert "port 8787 on 127.0.0.1 is busy" in done.stderr
    assert "WhatsApp Local Storage plan" not in done.stdout


@pytest.mark.parametrize(("error", "expected"), [
    (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
     "the host name does not resolve (Name or service not known); offline?"),
    (urllib.error.URLError(TimeoutError("timed out")), "no answer within 20 s; offline?"),
    (subprocess.CalledProcessError(22, ["install.sh"], output=b"downloading...\ncurl: (22) 404 Not Found\n"),
     "Pulumi's installer exited 22: curl: (22) 404 Not Found"),
    (install_pulumi_cli.InstallTimedOut(), "the install did not finish within 600 s"),
])
def test_each_install_failure_is_one_line_naming_the_cause(error, expected):
    text = install_pulumi_cli.cause(error)
    assert expected in text
    assert "\n" not in text


def _fake_installed_cli(tmp_path: Path, refresh_exit: int = 0) -> Path:
    """A `pulumi` already in the install root, as a finished install leaves it; it records its calls."""
    version = install_pulumi_cli.sdk_version()
    bin_dir = tmp_path / "local-state" / "cli" / f"v{version}" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "pulumi"
    fake.write_text(f"""#!/bin/sh
[ "$1" = version ] && {{ echo "v{version}"; exit 0; }}
echo "$* | $PULUMI_BACKEND_URL | $PULUMI_HOME" >> "{tmp_path}/pulumi-calls.log"
[ "$1" = refresh ] && exit {refresh_exit}
[ "$1 $2" = "stack output" ] && echo '{{}}'
exit 0
""")
    fake.chmod(0o755)
    return bin_dir


def test_an_installed_cli_goes_on_path_and_the_run_goes_on_to_up_and_the_refresh_check(tmp_path, free_port_8787):
    bin_dir = _fake_installed_cli(tmp_path)
    done = run_up_local(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"up-local: using v{install_pulumi_cli.sdk_version()} from {bin_dir}" in done.stdout
    state = tmp_path / "local-state"
    calls = (tmp_path / "pulumi-calls.log").read_text().splitlines()
    assert [c.split(" | ")[0] for c in calls] == [
        "stack select --create local --non-interactive",
        "up --stack local --yes --non-interactive",
        "refresh --stack local --preview-only --expect-no-changes --non-interactive",
        "stack output --stack local numbers --json",
    ]
    assert {tuple(c.split(" | ")[1:]) for c in calls} == {(f"file://{state}", str(state / "pulumi-home"))}
    assert not _port_busy(8787)


def test_drift_after_up_fails_the_run_with_the_refresh_exit_code(tmp_path, free_port_8787):
    _fake_installed_cli(tmp_path, refresh_exit=7)
    done = run_up_local(tmp_path)
    assert done.returncode == 7, done.stdout + done.stderr
    assert "stack output" not in (tmp_path / "pulumi-calls.log").read_text()
    assert not _port_busy(8787)
