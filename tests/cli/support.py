"""Helpers the CLI tests share: run the CLI in-process, stack declarations, `pulumi stack export` documents.

Fixtures (`project`, the WHATSAPP_* environment cleanup) live in `conftest.py` beside this file.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.harness import Emulator
from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider import cli

ROOT = Path(__file__).resolve().parents[2]
TYPE = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"

# The local stack's declarations: registered numbers as they are, the unregistered one to IN.
LOCAL_NUMBERS = {
    REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456", "name": "acme-support"},
    REGISTERED_BR: {"region": "BR", "pin": "123456", "name": "acme-brasil"},
    UNREGISTERED: {"region": "IN", "pin": "123456", "name": "acme-india"},
}
IN_SYNC = {
    REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456"},
    REGISTERED_BR: {"region": "BR", "pin": "123456"},
}


def run(*argv: str, project_dir: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = list(argv) + (["--project-dir", str(project_dir)] if project_dir else [])
    code = cli.main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def mutating_calls(emulator: Emulator) -> list[dict[str, Any]]:
    return [c for c in emulator.calls() if c["method"] == "POST"]


def state_export(resources: dict[str, dict[str, Any]], *, stack: str = "test",
                 project: str = "whatsapp-local-storage", modified: str | None = None) -> dict[str, Any]:
    """A `pulumi stack export` document of `stack` in `project` with one resource per number."""
    return {"version": 3, "deployment": {"resources": [
        {"urn": f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",
         "type": "pulumi:pulumi:Stack", "custom": False},
        *({"urn": f"urn:pulumi:{stack}::{project}::{TYPE}::{number_id}", "custom": True,
           "id": number_id, "type": TYPE, "outputs": {"phone_number_id": number_id, **outputs},
           **({"modified": modified} if modified else {})}
          for number_id, outputs in resources.items()),
    ]}}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
