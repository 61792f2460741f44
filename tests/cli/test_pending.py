"""Issue 27, item 2: pending is not drift. With --state, per number and in every format:

| declared region vs state | live vs state | status  |
| same                     | same          | in sync |
| differs                  | same          | pending |
| any                      | differs       | drift   |

plus ``policy`` (live outside allowedRegions) and ``error`` (not read)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any, Callable

from emulator.harness import Emulator
from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.cli.support import run, state_export

POLICY = "whatsapp-local-storage__allowedRegions"
UNKNOWN = "106540352240000"  # no such number in the emulator: cannot be read

# What the last `pulumi up` recorded for each number: converged as declared then.
DEPLOYED_BR = {"declared_region": "BR", "region": "BR", "storage_status": "IN_COUNTRY_STORAGE_ENABLED",
               "registered": True, "name": "acme-brasil"}
DEPLOYED_DEFAULT = {"declared_region": "DEFAULT", "region": "DEFAULT", "storage_status": "DEFAULT",
                    "registered": True}


def _state(tmp_path: Path, resources: dict[str, dict[str, Any]]) -> str:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state_export(resources)))
    return str(path)


def _to_in(emulator: Emulator, number_id: str) -> None:
    """Someone moves the number's storage to India by hand."""
    emulator.patch(number_id, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})


def _statuses(out: str) -> dict[str, str]:
    return {n["phone_number_id"]: n["status"] for n in json.loads(out)["numbers"]}


def test_drift_with_state_calls_a_merged_not_deployed_number_pending_and_a_hand_change_drift(
        project: Callable[..., Path], emulator: Emulator, tmp_path: Path) -> None:
    state = _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR, REGISTERED_DEFAULT: DEPLOYED_DEFAULT})
    # merged on Tuesday: BR -> DE, deployed in Sunday's window; DEFAULT unchanged in the stack file
    merged = project({REGISTERED_BR: {"region": "DE", "pin": "123456"},
                      REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456"}})

    code, out, _ = run("drift", "--stack", "test", "--state", state, "--format", "json", project_dir=merged)
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0
    assert _statuses(out) == {REGISTERED_BR: "pending", REGISTERED_DEFAULT: "in_sync"}
    pending = next(n for n in data["numbers"] if n["status"] == "pending")
    assert pending["can_go"] == "now: at the next deploy" and pending["drift"] is False
    assert {k: data["summary"][k] for k in ("in_sync", "pending", "drift", "policy", "error")} == {
        "in_sync": 1, "pending": 1, "drift": 0, "policy": 0, "error": 0}

    code, out, _ = run("drift", "--stack", "test", "--state", state, project_dir=merged)
    assert code == 0
    assert f"{REGISTERED_BR}  pending" in out and "deployed as BR, declared DE: merged, not deployed yet" in out
    assert "Summary: 2 numbers: 1 pending (merged, not deployed), 1 in sync." in out
    assert run("drift", "--stack", "test", "--state", state, "--fail-on-pending", project_dir=merged)[0] == 7

    _to_in(emulator, REGISTERED_DEFAULT)  # and a hand-made change
    code, out, _ = run("drift", "--stack", "test", "--state", state, "--format", "markdown", project_dir=merged)
    assert code == 7
    assert "**2 numbers: 1 drift, 1 pending (merged, not deployed)**." in out
    assert "- **state**: Pulumi recorded DEFAULT, registered: changed outside Pulumi since" in out
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [REGISTERED_DEFAULT, REGISTERED_BR]  # drift before pending


def test_every_row_of_the_table_and_policy_and_error_get_their_status_and_the_summary_counts_each(
        project: Callable[..., Path], emulator: Emulator, tmp_path: Path) -> None:
    _to_in(emulator, REGISTERED_DEFAULT)
    state = _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR, REGISTERED_DEFAULT: DEPLOYED_DEFAULT,
                              UNREGISTERED: {"declared_region": "IN", "region": "DEFAULT", "storage_status": "DEFAULT",
                                             "registered": False}})
    directory = project({
        REGISTERED_BR: {"region": "BR", "name": "renamed: not pending", "cutoverWindows": ["Sun 03:00-05:00 UTC"]},
        REGISTERED_DEFAULT: {"region": "DE"},  # declared differs and live differs: drift wins
        UNREGISTERED: {"region": "IN"},  # state recorded it unconverged: live as recorded, declared as recorded
        UNKNOWN: {"region": "DEFAULT"},
    }, **{POLICY: ["BR", "DE", "DEFAULT", "IN"]})
    code, out, _ = run("drift", "--stack", "test", "--state", state, "--format", "json", project_dir=directory)
    assert code == 1  # an error
    assert _statuses(out) == {REGISTERED_BR: "in_sync", REGISTERED_DEFAULT: "drift", UNREGISTERED: "drift",
                              UNKNOWN: "error"}
    text = run("drift", "--stack", "test", "--state", state, project_dir=directory)[1]
    assert "Summary: 4 numbers: 1 error, 2 drift, 1 in sync." in text

    policy = project({REGISTERED_BR: {"region": "BR"}}, **{POLICY: ["DEFAULT"]})
    code, out, _ = run("drift", "--stack", "test", "--state", _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR}),
                       "--format", "json", project_dir=policy)
    assert code == 7 and _statuses(out) == {REGISTERED_BR: "policy"}


def test_without_state_nothing_is_pending_and_drift_says_so(project: Callable[..., Path]) -> None:
    merged = project({REGISTERED_BR: {"region": "DE"}})
    code, out, _ = run("drift", "--stack", "test", project_dir=merged)
    assert code == 7 and f"{REGISTERED_BR}  DRIFT" in out
    assert "Without --state nothing can be pending: a change merged but not deployed yet reads as drift." in out
    data = json.loads(run("drift", "--stack", "test", "--format", "json", project_dir=merged)[1])
    assert data["numbers"][0]["status"] == "drift" and any("nothing can be pending" in n for n in data["notes"])


def test_a_pending_number_waits_for_its_window_and_says_when_it_can_go(
        project: Callable[..., Path], tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("WHATSAPP_TEST_NOW", "2026-12-07T12:00:00Z")  # a Monday
    merged = project({REGISTERED_BR: {"region": "DE", "pin": "123456", "cutoverWindows": ["Sun 03:00-05:00 UTC"]}})
    code, out, _ = run("drift", "--stack", "test", "--state", _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR}),
                       "--format", "json", project_dir=merged)
    number = json.loads(out)["numbers"][0]
    assert code == 0 and number["status"] == "pending"
    assert number["can_go"].startswith("from 2026-12-13T03:00:00Z (")


def test_report_shows_pending_as_its_own_status_and_does_not_count_it_as_non_compliant(
        project: Callable[..., Path], tmp_path: Path) -> None:
    state = _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR, REGISTERED_DEFAULT: DEPLOYED_DEFAULT})
    merged = project({REGISTERED_BR: {"region": "DE"}, REGISTERED_DEFAULT: {"region": "DEFAULT"}})
    code, out, _ = run("report", "--stack", "test", "--state", state, "--format", "json", project_dir=merged)
    data = json.loads(out)
    assert code == 0 and data["summary"] == {"numbers": 2, "comply": 2, "do_not_comply": 0, "unknown": 0,
                                             "pending": 1}
    assert {n["phone_number_id"]: n["status"] for n in data["numbers"]} == {
        REGISTERED_BR: "pending", REGISTERED_DEFAULT: "in_sync"}
    code, out, err = run("report", "--stack", "test", "--state", state, "--format", "csv", project_dir=merged)
    assert code == 0 and {r["phone_number_id"]: r["status"] for r in csv.DictReader(io.StringIO(out))} == {
        REGISTERED_BR: "pending", REGISTERED_DEFAULT: "in_sync"}
    assert err.startswith("Read at: ")  # CSV stays rows only: the provenance is on stderr
    markdown = run("report", "--stack", "test", "--state", state, project_dir=merged)[1]
    assert "- Result: 2 of 2 numbers comply (1 of them pending" in markdown and "| pending |" in markdown
    # without --state the same change does not comply: it cannot be told from drift
    assert run("report", "--stack", "test", project_dir=merged)[0] == 7


def test_a_number_new_to_the_stack_complies_only_when_live_is_as_declared(
        project: Callable[..., Path], tmp_path: Path) -> None:
    """Pending, yet never deployed: live is not "what was deployed", so the audit compares it with
    the declaration (it said "complies" for a new entry whose live storage differed)."""
    state = _state(tmp_path, {REGISTERED_DEFAULT: DEPLOYED_DEFAULT})
    for declared, code, comply in (("DE", 7, 1), ("BR", 0, 2)):  # REGISTERED_BR lives in BR
        merged = project({REGISTERED_BR: {"region": declared}, REGISTERED_DEFAULT: {"region": "DEFAULT"}})
        done, out, _ = run("report", "--stack", "test", "--state", state, "--format", "json", project_dir=merged)
        data = json.loads(out)
        assert done == code and data["summary"]["comply"] == comply, (declared, data["summary"])
        assert {n["phone_number_id"]: n["status"] for n in data["numbers"]}[REGISTERED_BR] == "pending"


def test_plan_with_state_ranks_a_hand_change_first_and_a_change_waiting_for_its_window_last(
        project: Callable[..., Path], emulator: Emulator, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("WHATSAPP_TEST_NOW", "2026-12-07T12:00:00Z")  # a Monday, outside Sunday's window
    extra = "106540352242990"  # registered, in DEFAULT storage: the highest ID, so only its rank puts it first
    emulator.add_number(id=extra, display_phone_number="+1 555 0190", verified_name="Extra", pin="123456")
    _to_in(emulator, extra)
    state = _state(tmp_path, {REGISTERED_BR: DEPLOYED_BR, REGISTERED_DEFAULT: DEPLOYED_DEFAULT, extra: DEPLOYED_DEFAULT,
                              UNREGISTERED: {"declared_region": "DEFAULT", "region": "DEFAULT",
                                             "storage_status": "DEFAULT", "registered": False}})
    directory = project({
        REGISTERED_DEFAULT: {"region": "BR", "pin": "123456", "cutoverWindows": ["Sun 03:00-05:00 UTC"]},  # waits
        REGISTERED_BR: {"region": "DE", "pin": "123456"},  # a change that goes offline
        UNREGISTERED: {"region": "DE", "pin": "123456"},  # a change (not registered: nothing goes offline)
        extra: {"region": "DEFAULT", "pin": "123456"},  # changed by hand: drift
    })
    code, out, _ = run("plan", "--stack", "test", "--state", state, "--wait-for-window", project_dir=directory)
    assert code == 0
    assert re.findall(r"^(\d{15})  ", out, re.M) == [extra, REGISTERED_BR, UNREGISTERED, REGISTERED_DEFAULT]
    assert "Pulumi recorded DEFAULT, registered: changed outside Pulumi since" in out
