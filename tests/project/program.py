"""Run the stack program (`__main__.py`) under Pulumi's mocks in a fresh subprocess, fed stack config the
way the language host hands it over (`PULUMI_CONFIG`, `PULUMI_CONFIG_SECRET_KEYS`). Shared by the program and
policy-pack tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPE = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")

_RUNNER = r"""
import json, runpy, sys
import pulumi
from pulumi.runtime.settings import get_root_resource

registered = []

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        registered.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        region = args.inputs.get("region")
        return [args.name, {**args.inputs, "region": region, "storage_status": "DEFAULT",
                            "registered": True, "display_phone_number": "+1 555-0100", "applied_steps": []}]
    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Mocks(), project="whatsapp-local-storage", stack="test", preview=False)
result = {"resources": registered, "exports": {}, "error": None}

@pulumi.runtime.test
def program():
    runpy.run_path("__main__.py")
    root = get_root_resource()
    return pulumi.Output.from_input(root.outputs).apply(result["exports"].update)

try:
    program()
except Exception as exc:
    result["error"] = {"type": type(exc).__name__, "message": str(exc)}
for res in registered:
    res["inputs"].pop("__provider", None)
json.dump(result, sys.stdout)
"""


def run_program(config: dict[str, str], secret_keys: Sequence[str] = ()) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "WHATSAPP_"))}
    env["PULUMI_CONFIG"] = json.dumps(config)
    env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(secret_keys))
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", _RUNNER], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def numbers_config(numbers: object) -> dict[str, str]:
    return {NUMBERS_KEY: json.dumps(numbers)}


def is_secret(value: object) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]
