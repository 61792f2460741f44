"""`plan --ready-targets`: only URNs on stdout, everyone else on stderr, the exit codes (issue 27, item 1).
The deploy workflow's end-to-end run is tests/project/test_deploy_ready_targets.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.cli.support import TYPE, run, state_export

GONE = "106540352249999"  # in state, no longer declared


def urn(number_id: str) -> str:
    return f"urn:pulumi:test::whatsapp-local-storage::{TYPE}::{number_id}"


def state(tmp_path: Path, resources: dict[str, dict[str, Any]]) -> str:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state_export(resources)))
    return str(path)


IN_SYNC_BR = {"region": "BR", "declared_region": "BR", "registered": True, "storage_status": "IN_COUNTRY_STORAGE_ENABLED",
              "on_delete": "retain", "enforce_pin": False, "allow_cutover_on_create": False, "waba_id": None,
              "schema_version": 2}


def test_ready_targets_lists_creates_updates_without_calls_and_deletes_and_nothing_in_sync(
        project: Callable[..., Path], tmp_path: Path) -> None:
    project_dir = project({
        REGISTERED_BR: {"region": "BR"},  # in sync, same inputs: nothing to do
        REGISTERED_DEFAULT: {"region": "DEFAULT", "onDelete": "disable"},  # an update with no call
        UNREGISTERED: {"region": "DEFAULT", "pin": "123456"},  # new: a create (settings and register: online)
    })
    file = state(tmp_path, {REGISTERED_BR: IN_SYNC_BR,
                            REGISTERED_DEFAULT: {**IN_SYNC_BR, "region": "DEFAULT", "declared_region": "DEFAULT",
                                                 "storage_status": "DEFAULT"},
                            GONE: {**IN_SYNC_BR, "on_delete": "retain"}})
    code, out, err = run("plan", "--stack", "test", "--state", file, "--ready-targets", project_dir=project_dir)

    assert code == 0, err
    assert sorted(out.splitlines()) == sorted([urn(REGISTERED_DEFAULT), urn(UNREGISTERED), urn(GONE)])
    assert "3 ready, 0 waiting, 0 refused" in err


def test_ready_targets_prints_nothing_when_the_program_would_fail(project: Callable[..., Path], tmp_path: Path) -> None:
    project_dir = project({REGISTERED_BR: {"region": "BR"}, REGISTERED_DEFAULT: {"region": "UK"}})
    code, out, err = run("plan", "--stack", "test", "--state", state(tmp_path, {}), "--ready-targets",
                         project_dir=project_dir)
    assert code == 1 and out == ""
    assert f"{REGISTERED_DEFAULT}: the stack program would fail" in err and "GB" in err


def test_ready_targets_needs_a_state_file_and_no_other_format(project: Callable[..., Path], tmp_path: Path) -> None:
    project_dir = project({REGISTERED_BR: {"region": "BR"}})
    code, out, err = run("plan", "--stack", "test", "--ready-targets", project_dir=project_dir)
    assert code == 2 and out == "" and "--ready-targets needs --state" in err
    code, out, _err = run("plan", "--stack", "test", "--state", state(tmp_path, {}), "--ready-targets", "--format",
                          "json", project_dir=project_dir)
    assert code == 2


def test_ready_targets_lists_a_number_that_drifted_from_an_unchanged_declaration(
        project: Callable[..., Path], tmp_path: Path) -> None:
    """Declared as state records it, live changed by hand: `pulumi up` converges it (diff reads live)."""
    project_dir = project({REGISTERED_BR: {"region": "IN", "pin": "123456"}})
    file = state(tmp_path, {REGISTERED_BR: {**IN_SYNC_BR, "region": "IN", "declared_region": "IN", "pin": "x"}})
    code, out, err = run("plan", "--stack", "test", "--state", file, "--ready-targets", project_dir=project_dir)
    assert code == 0, err
    assert out.splitlines() == [urn(REGISTERED_BR)]
