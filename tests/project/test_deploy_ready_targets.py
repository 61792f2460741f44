"""The deploy workflow deploys what may go now (issue 27, item 1's done-when).

Two numbers, two windows, a clock inside one of them: the workflow's deploy step (run with a
stand-in `pulumi` on PATH that prints the state export and records its arguments) lists one URN,
runs `pulumi up --target` with it and the policy pack, and exits 0; with a third number refused
for a missing PIN, the ready one is still deployed and the step exits 1. The recorded targets
are then deployed through the engine imitation against the emulator: the ready number converges,
the other gets no call.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import yaml

from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import post_edges
from tests.engine import TYPE, Engine
from tests.engine_process import SECRET_KEY, SECRET_SIG, unwrap_secret
from tests.project.test_workflows import BIN, ROOT, step
from tests.reliability_report import engine_config

BERLIN, KOLKATA = "Sun 03:00-05:00 Europe/Berlin", "Wed 23:00-01:00 Asia/Kolkata"
SUNDAY_IN_BERLIN_WINDOW = "2026-12-13T02:30:00Z"
PROJECT = "whatsapp-local-storage"


def urn(name: str) -> str:
    return f"urn:pulumi:local::{PROJECT}::{TYPE}::{name}"


def export(eng: Engine) -> dict[str, Any]:
    """What `pulumi stack export` prints for the engine's state (the PIN encrypted, as Pulumi keeps it)."""
    def output(key: str, value: Any) -> Any:
        value = unwrap_secret(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # the engine's protobuf numbers are floats; an export has whole numbers
        return {SECRET_KEY: SECRET_SIG, "ciphertext": "v1:opaque"} if key == "pin" and value is not None else value

    return {"version": 3, "deployment": {"resources": [
        {"urn": urn(name), "custom": True, "id": entry.id, "type": TYPE,
         "outputs": {key: output(key, value) for key, value in entry.outputs.items()}}
        for name, entry in eng.state.items()]}}


def project(where: Path, url: str, token: str, numbers: dict[str, Any]) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\nstackConfigDir: stacks\n")
    (where / "stacks").mkdir(exist_ok=True)
    config = {"whatsapp:graphApiUrl": url, "whatsapp:accessToken": token,
              "whatsapp-local-storage:phoneNumbers": numbers}
    (where / "stacks" / "Pulumi.local.yaml").write_text(yaml.safe_dump({"config": config}))
    for name in ("provider", ".venv"):
        if not (where / name).exists():
            (where / name).symlink_to(ROOT / name)
    return where


def deploy(work: Path, tmp_path: Path, state: dict[str, Any]) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """The workflow's deploy step, with a stand-in `pulumi` that prints ``state`` for `stack export`."""
    bin_dir, log = tmp_path / "bin", tmp_path / "pulumi-calls.jsonl"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "state-export.json").write_text(json.dumps(state))
    stand_in = bin_dir / "pulumi"
    stand_in.write_text("#!/usr/bin/env python3\nimport json, sys\n"
                        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                        "if sys.argv[1:3] == ['stack', 'export']:\n"
                        f"    sys.stdout.write(open({str(tmp_path / 'state-export.json')!r}).read())\n")
    stand_in.chmod(0o755)
    log.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "PULUMI_"))}
    env.update(PATH=os.pathsep.join([str(bin_dir), str(BIN), "/usr/bin", "/bin"]), STACK="local",
               RUNNER_TEMP=str(tmp_path), WHATSAPP_TEST_NOW=SUNDAY_IN_BERLIN_WINDOW)
    script = step(ROOT / "examples" / "deploy-on-merge.yml", "up", "Deploy what may go now")["run"]
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done, [json.loads(line) for line in log.read_text().splitlines()]


def targets(call: list[str]) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == "--target"]


def test_the_deploy_step_targets_only_what_may_go_now_and_fails_after_deploying_when_one_is_refused(
        emulator, tmp_path: Path) -> None:
    eng = Engine(engine_config(emulator), env={"WHATSAPP_TEST_NOW": SUNDAY_IN_BERLIN_WINDOW}, skip_preview=True)
    adopt = {REGISTERED_BR: {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN, "cutover_windows": [BERLIN]},
             REGISTERED_DEFAULT: {"phone_number_id": REGISTERED_DEFAULT, "region": "DEFAULT", "pin": DEMO_PIN,
                                  "cutover_windows": [KOLKATA]}}
    assert all(s.error is None for s in eng.up(adopt).values())
    merged = {REGISTERED_BR: {"region": "IN", "pin": DEMO_PIN, "cutoverWindows": [BERLIN]},
              REGISTERED_DEFAULT: {"region": "BR", "pin": DEMO_PIN, "cutoverWindows": [KOLKATA]}}
    emulator.clear_calls()

    work = project(tmp_path / "work", emulator.url, emulator.token, merged)
    done, calls = deploy(work, tmp_path, export(eng))
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls[0][:2] == ["stack", "export"]
    [up] = [c for c in calls if c[0] == "up"]
    assert targets(up) == [urn(REGISTERED_BR)]
    assert up[up.index("--policy-pack") + 1] == "policy"
    assert up[up.index("--policy-pack-config") + 1] == "policy/example-production.config.json"
    assert f"{REGISTERED_DEFAULT} (update): waits until 2026-12-16T17:30:00Z" in done.stderr, done.stderr

    # a third number, new to the stack, refused for its PIN: the ready one still deploys, then exit 1
    project(work, emulator.url, emulator.token, {**merged, UNREGISTERED: {"region": "BR"}})
    done, calls = deploy(work, tmp_path, export(eng))
    assert done.returncode == 1, done.stdout + done.stderr
    [up] = [c for c in calls if c[0] == "up"]
    assert targets(up) == [urn(REGISTERED_BR)]
    assert f"{UNREGISTERED} (create): refused" in done.stderr and "PIN" in done.stderr
    assert "::error::some numbers are refused" in done.stdout
    assert post_edges(emulator.calls()) == [], "listing makes no call"

    # `pulumi up --target` as the stand-in recorded it, through the engine imitation
    program = {n: {"phone_number_id": n, "region": merged[n]["region"], "pin": DEMO_PIN,
                   "cutover_windows": merged[n]["cutoverWindows"]} for n in merged}
    steps = eng.up(program, target=[u.rsplit("::", 1)[1] for u in targets(up)])
    assert steps[REGISTERED_BR].error is None and steps[REGISTERED_BR].op == "update", steps[REGISTERED_BR]
    assert post_edges(emulator.calls(), REGISTERED_BR) == ["deregister", "settings", "register"]
    assert post_edges(emulator.calls(), REGISTERED_DEFAULT) == [], "the waiting number gets no call"
    assert shlex.join(["--target", urn(REGISTERED_BR)]) in shlex.join(up)
