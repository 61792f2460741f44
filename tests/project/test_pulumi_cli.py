"""The newcomer's path with the real `pulumi` CLI: `pulumi up` and refresh on the local stack.

Tests marked `pulumi_cli` run `pulumi` itself against a subprocess emulator, with a file backend
and a fixed passphrase in tmp_path; they are skipped where `pulumi` is not on PATH. The
./scripts/up-local tests, which need no pulumi, are in test_up_local.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.harness import start_emulator
from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.matching import must_match

# pytest-xdist: keep these tests on one worker: the local stack points at the fixed port 8787.
pytestmark = pytest.mark.xdist_group("port-8787")

ROOT = Path(__file__).resolve().parents[2]
LOCAL_URL = "http://127.0.0.1:8787"


# -- the real pulumi CLI --------------------------------------------------------------------------


@pytest.fixture
def pulumi_project(tmp_path):
    """A copy of the project whose local stack points at a fresh subprocess emulator."""
    if shutil.which("pulumi") is None:
        pytest.skip("the pulumi CLI is not on PATH")
    emu = start_emulator(seed="demo", subprocess=True)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "provider", project / "provider", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "stacks").mkdir()
    local = (ROOT / "stacks" / "Pulumi.local.yaml").read_text()
    (project / "stacks" / "Pulumi.local.yaml").write_text(local.replace(LOCAL_URL, emu.url))
    (project / ".venv").symlink_to(ROOT / ".venv")
    backend = tmp_path / "backend"
    backend.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WHATSAPP_", "PULUMI_")) or k == "PULUMI_HOME"}
    env.update(PULUMI_BACKEND_URL=f"file://{backend}", PULUMI_CONFIG_PASSPHRASE="test-only-passphrase",
               PULUMI_SKIP_UPDATE_CHECK="true")

    def pulumi(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    assert pulumi("stack", "init", "local").returncode == 0
    yield emu, pulumi, project, env
    emu.stop()


@pytest.mark.pulumi_cli
@pytest.mark.timeout(600)
def test_pulumi_up_converges_the_local_stack_and_refresh_then_sees_no_drift(pulumi_project):
    emu, pulumi, _, _ = pulumi_project
    up = pulumi("up", "--stack", "local", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert emu.number(UNREGISTERED)["platform_type"] == "CLOUD_API"
    assert emu.number(UNREGISTERED)["settings"]["storage_configuration"]["data_localization_region"] == "IN"
    # the registered numbers were adopted as they are: no call reached them
    touched = {c["path"].split("/")[1] for c in emu.calls() if c["method"] == "POST"}
    assert touched == {UNREGISTERED}

    outputs = pulumi("stack", "output", "--stack", "local", "numbers", "--json")
    numbers = json.loads(outputs.stdout)
    assert {k: v["region"] for k, v in numbers.items()} == {
        REGISTERED_DEFAULT: "DEFAULT", REGISTERED_BR: "BR", UNREGISTERED: "IN"}
    assert numbers[UNREGISTERED]["name"] == "acme-india"

    refresh = pulumi("refresh", "--stack", "local", "--preview-only", "--expect-no-changes")
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr


@pytest.mark.pulumi_cli
@pytest.mark.timeout(600)
def test_an_out_of_band_change_makes_refresh_and_drift_fail(pulumi_project):
    emu, pulumi, project, env = pulumi_project
    assert pulumi("up", "--stack", "local", "--yes").returncode == 0
    emu.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})

    refresh = pulumi("refresh", "--stack", "local", "--preview-only", "--expect-no-changes")
    assert refresh.returncode != 0, refresh.stdout
    cli = re.match(r"v?(\d+)\.(\d+)\.(\d+)", pulumi("version").stdout.strip())
    if cli and tuple(map(int, cli.groups())) >= (3, 226, 0):
        # Pulumi's own code for changes under `refresh --expect-no-changes` since 3.226 (`up`'s since 3.227);
        # nightly-drift.yml relies on it
        assert refresh.returncode == 7, refresh.stdout + refresh.stderr
    drift = subprocess.run([sys.executable, "-m", "provider", "drift", "--stack", "local"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert drift.returncode == 7, drift.stdout + drift.stderr
    assert f"{REGISTERED_BR}  DRIFT" in drift.stdout


# -- Pulumi.yaml: the minimum CLI ------------------------------------------------------------------

# Pulumi's project file keys: the properties of the project schema (pulumi/pulumi,
# sdk/go/common/workspace/project.json) plus `requiredPulumiVersion`, which the schema does not list
# but the Project struct reads (sdk/go/common/workspace/project.go, yaml:"requiredPulumiVersion").
# The schema allows additional properties, so a misspelt key would be silently ignored.
PROJECT_KEYS = {"name", "description", "author", "website", "license", "runtime", "main", "config",
                "stackConfigDir", "backend", "options", "template", "packages", "plugins",
                "requiredPulumiVersion"}
_COMPARATOR = re.compile(r"^(>=|<=|!=|==|>|<|=|!)?(\d+)\.(\d+)\.(\d+)$")


def satisfies(version: str, version_range: str) -> bool:
    """blang/semver ParseRange semantics (what the CLI uses): `||` ORs, spaces AND, x.y.z required."""
    target = tuple(int(part) for part in version.split("."))
    tests = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
             "<": lambda a, b: a < b, "!=": lambda a, b: a != b, "!": lambda a, b: a != b,
             "==": lambda a, b: a == b, "=": lambda a, b: a == b, None: lambda a, b: a == b}

    def comparator(text: str) -> bool:
        match = _COMPARATOR.match(text)
        assert match, f"{text!r} is not a blang/semver comparator such as >=3.139.0"
        return tests[match.group(1)](target, tuple(int(g) for g in match.group(2, 3, 4)))

    return any(all(comparator(part) for part in alternative.split())
               for alternative in version_range.split("||"))


def test_pulumi_yaml_requires_a_cli_that_hands_dynamic_providers_the_stack_config():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert set(project) <= PROJECT_KEYS, f"unknown Pulumi.yaml keys: {set(project) - PROJECT_KEYS}"
    version_range = project["requiredPulumiVersion"]
    assert isinstance(version_range, str)
    sdk = must_match(re.search(r"^pulumi==(\S+)", (ROOT / "requirements.txt").read_text(), re.M),
                     "the pulumi pin").group(1)
    assert satisfies("3.139.0", version_range) and satisfies(sdk, version_range)
    assert not satisfies("3.138.9", version_range) and not satisfies("2.30.0", version_range)


def test_the_range_reader_follows_blang_semver():
    assert satisfies("3.8.1", "<3.4.0 || >3.8.0") and not satisfies("3.5.0", "<3.4.0 || >3.8.0")
    assert not satisfies("3.7.7", ">=3.5.0 !3.7.7") and satisfies("3.7.8", ">=3.5.0 !3.7.7")
    with pytest.raises(AssertionError, match="not a blang/semver comparator"):
        satisfies("3.139.0", ">=3.139")
