"""`plan`, `drift` and `report` with change windows: a per-number "in a window" / "next opening"
column, and `plan` exiting 1 when `pulumi up` would refuse a cutover now. The clock is the
provider's (``WHATSAPP_TEST_NOW``); 2026-12-09 is a Wednesday, 2026-12-13 a Sunday."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider import cli
from provider.cli.evidence import CSV_COLUMNS

WINDOWS_KEY = "whatsapp-local-storage:cutoverWindows"
WINDOW = "Sun 03:00-05:00 Europe/Berlin"
OUTSIDE, INSIDE = "2026-12-09T12:00:00Z", "2026-12-13T02:30:00Z"
NEXT = "next opening 2026-12-13T02:00:00Z (Sun 2026-12-13 03:00 CET, Europe/Berlin)"
GATE_NEXT = "next opening is 2026-12-13T02:00:00Z (Sun 2026-12-13 03:00 CET, Europe/Berlin)"  # the gate's words


@pytest.fixture
def stack(project_dir, emulator):
    """write(numbers, windows) -> the project directory of a stack `test` pointing at the emulator."""
    tmp_path = project_dir

    def write(numbers: dict[str, Any], windows: Any = None) -> Path:
        config: dict[str, Any] = {"whatsapp:graphApiUrl": emulator.url, "whatsapp:accessToken": emulator.token,
                                  "whatsapp-local-storage:phoneNumbers": numbers}
        if windows is not None:
            config[WINDOWS_KEY] = windows
        (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}))
        return tmp_path

    return write


def run(project: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([*argv, "--stack", "test", "--project-dir", str(project)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


CUTOVER = {REGISTERED_BR: {"region": "IN", "pin": "123456"}}


def test_plan_exits_1_when_a_cutover_would_be_refused_now_and_names_the_next_opening(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack(CUTOVER, [WINDOW]), "plan")

    assert code == 1
    assert "REFUSED" in out
    assert (f"window:    no cutover may start now ({OUTSIDE}): outside its change windows; the {GATE_NEXT} "
            f"(cutoverWindows: {WINDOW})") in out
    assert "the next opening is 2026-12-13T02:00:00Z" in out and "`cutoverWindows` is Sun 03:00-05:00 Europe/Berlin" in out


def test_plan_wait_for_window_shows_the_cutover_waiting_for_its_window_and_exits_0(stack, monkeypatch):
    """Pull-request review: the change may merge any time; the deploy job runs it inside the window."""
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack(CUTOVER, [WINDOW]), "plan", "--wait-for-window", "--format", "json")

    assert code == 0
    number = json.loads(out)["numbers"][0]
    assert number["status"] == "change" and number["preflight"] == {"ok": True, "problems": []}
    assert any(w.startswith("waits for its change window: ") and "2026-12-13T02:00:00Z" in w
               for w in number["warnings"]), number["warnings"]


def test_plan_wait_for_window_still_exits_1_for_every_other_refusal(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack({REGISTERED_BR: {"region": "IN"}}, [WINDOW]), "plan", "--wait-for-window")

    assert code == 1, out
    assert "REFUSED" in out and "PIN" in out


def test_plan_inside_the_window_exits_0_and_says_until_when(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", INSIDE)
    code, out, _err = run(stack(CUTOVER, [WINDOW]), "plan")

    assert code == 0
    assert f"window:    a cutover may start now ({INSIDE}): in a window (Sun 03:00-05:00 Europe/Berlin) until " \
           "2026-12-13T04:00:00Z (Sun 2026-12-13 05:00 CET, Europe/Berlin)" in out


def test_a_plan_that_takes_no_number_offline_is_not_refused_outside_the_window(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    numbers = {UNREGISTERED: {"region": "BR", "pin": "123456"}, REGISTERED_DEFAULT: {"region": "DEFAULT"}}
    code, out, _err = run(stack(numbers, [WINDOW]), "plan", "--format", "json")

    assert code == 0
    data = json.loads(out)
    assert [n["status"] for n in data["numbers"]] == ["in_sync", "change"]
    assert all(n["window"]["next_opening"]["utc"] == "2026-12-13T02:00:00Z" for n in data["numbers"])


def test_the_markdown_plan_has_a_window_column_and_a_numbers_own_windows_win(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    numbers = {**CUTOVER, REGISTERED_DEFAULT: {"region": "DEFAULT", "cutoverWindows": ["Wed 11:00-13:00 UTC"]}}
    code, out, _err = run(stack(numbers, [WINDOW]), "plan", "--format", "markdown", "--show-sames")

    assert code == 1
    header = next(line for line in out.splitlines() if line.startswith("| Number"))
    assert "| Window |" in header
    rows = {line.split("|")[1].strip(" `"): line for line in out.splitlines() if line.startswith("| `")}
    assert NEXT in rows[REGISTERED_BR]
    assert "in a window until 2026-12-09T13:00:00Z" in rows[REGISTERED_DEFAULT]


def test_without_windows_the_column_says_any_time_and_json_has_no_window(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack(CUTOVER), "plan", "--format", "json")

    assert code == 0
    assert json.loads(out)["numbers"][0]["window"] is None


def test_drift_shows_the_window_and_keeps_its_exit_codes(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack(CUTOVER, [WINDOW]), "drift")

    assert code == 7, "drift is drift, whatever the window"
    assert f"outside its change windows; the {GATE_NEXT}" in out


def test_report_has_in_window_and_next_opening_columns(stack, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    project = stack({REGISTERED_BR: {"region": "BR"}}, [WINDOW])

    code, out, _err = run(project, "report", "--format", "csv")
    assert code == 0
    [record] = list(csv.DictReader(io.StringIO(out)))
    assert tuple(record) == CSV_COLUMNS
    assert record["in_window"] == "no"
    assert record["next_window_opening"] == "2026-12-13T02:00:00Z"
    assert record["next_window_opening_local"] == "Sun 2026-12-13 03:00 CET, Europe/Berlin"

    code, out, _err = run(project, "report", "--format", "markdown")
    assert "Change window" in out and GATE_NEXT in out


def test_a_malformed_stack_window_is_an_error_naming_the_setting_before_any_read(stack, emulator, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    emulator.clear_calls()
    code, out, err = run(stack(CUTOVER, ["Sun 02:00-04:00 Europe/Berlin"]), "plan", "--format", "json")

    assert code == 1
    assert WINDOWS_KEY in json.loads(out)["error"] and "clocks skip" in err
    assert emulator.calls() == []


def test_plan_wait_for_window_still_exits_1_for_an_empty_window_list_which_means_never(stack, monkeypatch):
    """`[]` is a decision, not a wait: a pull request with it must not go green."""
    monkeypatch.setenv("WHATSAPP_TEST_NOW", OUTSIDE)
    code, out, _err = run(stack(CUTOVER, []), "plan", "--wait-for-window", "--format", "json")

    assert code == 1, out
    [number] = json.loads(out)["numbers"]
    [problem] = number["preflight"]["problems"]
    assert "an empty list, which means never" in problem, number
    assert not any("waits for its change window" in w for w in number["warnings"])
    assert number["window"]["gate"]["answer"] == "never"


def test_plan_names_the_blocking_blackout_its_end_and_the_next_opening_after_it(stack, monkeypatch, project_dir):
    monkeypatch.setenv("WHATSAPP_TEST_NOW", "2026-12-13T02:30:00Z")  # inside the window and the blackout
    project = stack(CUTOVER, [WINDOW])
    path = project / "stacks" / "Pulumi.test.yaml"
    config = yaml.safe_load(path.read_text())
    config["config"]["whatsapp-local-storage:cutoverBlackouts"] = [
        {"from": "2026-12-13T03:00", "to": "2026-12-13T03:45", "zone": "Europe/Berlin", "reason": "year-end freeze"}]
    path.write_text(yaml.safe_dump(config))

    code, out, _err = run(project, "plan")
    assert code == 1, out
    assert 'blackout "year-end freeze"' in out and "lasts until 2026-12-13T02:45:00Z" in out
    assert "the next opening at or after its end is 2026-12-13T02:45:00Z" in out

    code, out, _err = run(project, "plan", "--wait-for-window")
    assert code == 0, "a blackout only waits: the pull request may merge"


def test_plan_in_adjacent_windows_says_until_the_end_of_the_pair(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window longer than a day is written as two that touch: at Sat 23:00 the cutover may run
    until Sunday 02:00, not until midnight (issue 26 item 2, through the command line)."""
    monkeypatch.setenv("WHATSAPP_TEST_NOW", "2026-12-12T23:00:00Z")  # a Saturday
    code, out, _err = run(stack(CUTOVER, ["Sat 22:00-24:00 UTC", "Sun 00:00-02:00 UTC"]), "plan")
    assert code == 0, out
    assert "until 2026-12-13T02:00:00Z" in out and "until 2026-12-13T00:00:00Z" not in out, out


def test_plan_refuses_an_abbreviated_zone_naming_the_region_to_use(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_TEST_NOW", INSIDE)
    code, out, err = run(stack(CUTOVER, ["Sun 03:00-05:00 EST"]), "plan")
    assert code == 1
    assert "use a region such as America/New_York" in out + err and "cutoverWindows" in out + err
