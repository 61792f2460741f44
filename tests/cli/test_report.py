"""The compliance policy in `plan` and `drift`, and `report`, the evidence snapshot for auditors.

Driven like tests/cli/test_cli.py: `provider.cli.main([...])` in-process, with a temporary project
whose stack file points at the emulator.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from emulator.seed import NO_STORAGE, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider.cli.evidence import CSV_COLUMNS
from tests.cli.support import IN_SYNC, iso, run, state_export

POLICY = "whatsapp-local-storage__allowedRegions"


def _to_in(emulator, number_id: str) -> None:
    """Someone moves the number's storage to India by hand."""
    emulator.patch(number_id, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})


# -- policy in plan and drift ---------------------------------------------------------------------


def test_plan_gives_a_policy_verdict_per_number(project, emulator):
    _to_in(emulator, REGISTERED_BR)
    directory = project(IN_SYNC, **{POLICY: ["BR", "DEFAULT"]})
    code, out, _ = run("plan", "--stack", "test", "--show-sames", project_dir=directory)
    assert "Policy: allowedRegions: BR, DEFAULT" in out
    assert "policy:    live storage DEFAULT (Meta default storage) is inside allowedRegions (BR, DEFAULT)" in out
    assert "policy:    VIOLATION: live storage IN (India) is outside allowedRegions (BR, DEFAULT)" in out
    assert code == 0  # `pulumi up` would move it back to BR, which the policy allows
    data = json.loads(run("plan", "--stack", "test", "--format", "json", project_dir=directory)[1])
    by_id = {n["phone_number_id"]: n for n in data["numbers"]}
    assert data["allowed_regions"] == ["BR", "DEFAULT"]
    assert by_id[REGISTERED_BR]["policy"] == {"live_complies": False, "declared_complies": True}
    assert by_id[REGISTERED_DEFAULT]["policy"] == {"live_complies": True, "declared_complies": True}
    assert data["summary"]["policy_violations"] == 1
    markdown = run("plan", "--stack", "test", "--format", "markdown", project_dir=directory)[1]
    assert "| Preflight | Policy |" in markdown and "| ok | VIOLATION |" in markdown


def test_without_a_policy_there_is_no_verdict(project):
    data = json.loads(run("plan", "--stack", "test", "--format", "json", project_dir=project(IN_SYNC))[1])
    assert data["allowed_regions"] is None and all(n["policy"] is None for n in data["numbers"])


def test_drift_exits_7_when_a_live_number_is_outside_the_policy_even_in_sync(project):
    # Declared BR and live BR: no drift, but the stack's policy no longer lets data rest in Brazil.
    directory = project(IN_SYNC, **{POLICY: ["DEFAULT", "DE"]})
    code, out, _ = run("drift", "--stack", "test", "--format", "json", project_dir=directory)
    data = json.loads(out)
    assert code == 7 and data["exit_code"] == 7
    assert data["summary"]["drift"] == 0 and data["summary"]["policy_violations"] == 1
    code, out, _ = run("drift", "--stack", "test", project_dir=directory)
    assert code == 7 and "2 numbers: 1 outside allowedRegions, 1 in sync" in out
    assert run("drift", "--stack", "test", project_dir=project(IN_SYNC, **{POLICY: ["BR", "DEFAULT"]}))[0] == 0


def test_drift_does_not_call_an_in_sync_number_outside_the_policy_drift_nor_its_entry_invalid(project):
    # Declared BR and live BR: the number matches its declaration; what is wrong is the policy.
    directory = project(IN_SYNC, **{POLICY: ["DEFAULT", "DE"]})
    code, out, _ = run("drift", "--stack", "test", project_dir=directory)
    assert code == 7
    assert f"{REGISTERED_BR}  OUTSIDE POLICY" in out and f"{REGISTERED_BR}  DRIFT" not in out
    assert "invalid entr" not in out
    assert "2 numbers: 1 outside allowedRegions, 1 in sync; the stack file has 1 entry outside allowedRegions" in out
    markdown = run("drift", "--stack", "test", "--format", "markdown", project_dir=directory)[1]
    assert "| OUTSIDE POLICY |" in markdown and "| DRIFT |" not in markdown


def test_a_declaration_outside_the_policy_stops_the_plan(project):
    directory = project({**IN_SYNC, UNREGISTERED: {"region": "IN", "pin": "123456"}}, **{POLICY: ["BR", "DEFAULT"]})
    code, out, _ = run("plan", "--stack", "test", project_dir=directory)
    assert code == 1
    assert f"{UNREGISTERED}  REFUSED" in out and "storage IN (India) is outside whatsapp-local-storage:allowedRegions" in out
    assert ("nothing would change (the stack file has 1 entry outside allowedRegions, and `pulumi up` would stop "
            "before declaring any resource)") in out


def test_a_malformed_policy_is_an_error_naming_the_setting_before_any_call(project, emulator):
    for value, said in ((["BR", "UK"], "allowedRegions[1]: region 'UK' is not a Meta region code: the United "
                                       "Kingdom's ISO code is GB"),
                        ("BR", "allowedRegions must be a list of region codes"),
                        (["XX"], "allowedRegions[0]: region 'XX' is not supported")):
        for command in ("plan", "drift", "report"):
            code, out, err = run(command, "--stack", "test", "--format", "json",
                                 project_dir=project(IN_SYNC, **{POLICY: value}))
            assert code == 1 and said in json.loads(out)["error"] and said in err, (command, value)
    assert emulator.calls() == []


# -- report ---------------------------------------------------------------------------------------


def test_report_markdown_is_a_dated_snapshot_and_exits_0_when_every_number_complies(project, emulator):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    directory = project({**IN_SYNC, REGISTERED_BR: {"region": "BR", "name": "acme-brasil"}},
                        **{POLICY: ["BR", "DEFAULT"]})
    code, out, _ = run("report", "--stack", "test", project_dir=directory)
    assert code == 0
    read_at = next(line for line in out.splitlines() if line.startswith("- Read at: "))
    moment = datetime.strptime(read_at[len("- Read at: "):-len(" (UTC)")], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= moment.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
    assert "- Graph API: v25.0 at http://127.0.0.1:" in out
    assert "- Policy: allowedRegions: BR, DEFAULT" in out
    assert "- Result: 2 of 2 numbers comply" in out
    assert (f"| `{REGISTERED_BR}` | +55 11 5555-0101 | acme-brasil | BR | BR | IN_COUNTRY_STORAGE_ENABLED | yes | "
            "yes | yes |") in out
    assert [c for c in emulator.calls() if c["method"] != "GET"] == []


def test_report_csv_opens_as_a_table(project, emulator):
    _to_in(emulator, REGISTERED_BR)
    numbers = {**IN_SYNC, NO_STORAGE: {"region": "DEFAULT", "name": "=HYPERLINK(\"http://x\")"}}
    code, out, _ = run("report", "--stack", "test", "--format", "csv",
                       project_dir=project(numbers, **{POLICY: ["BR", "DEFAULT"]}))
    assert code == 7
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = {r["phone_number_id"]: r for r in reader}
    assert list(rows) == [REGISTERED_DEFAULT, REGISTERED_BR, NO_STORAGE]
    assert rows[REGISTERED_DEFAULT] | {"read_at": "-"} == {
        "read_at": "-", "stack": "test", "api_version": "v25.0", "allowed_regions": "BR DEFAULT",
        "phone_number_id": REGISTERED_DEFAULT, "display_phone_number": "+1 555-0100", "name": "",
        "declared_region": "DEFAULT", "live_region": "DEFAULT", "storage_status": "DEFAULT", "registered": "yes",
        "complies_with_declaration": "yes", "complies_with_policy": "yes", "status": "in_sync", "complies": "yes",
        "last_applied_steps": "", "last_applied_at": "", "in_window": "", "next_window_opening": "",
        "next_window_opening_local": "", "change_window": "", "error": ""}
    brasil = rows[REGISTERED_BR]
    assert (brasil["live_region"], brasil["complies_with_declaration"], brasil["complies_with_policy"],
            brasil["complies"]) == ("IN", "no", "no", "no")
    no_storage = rows[NO_STORAGE]
    assert (no_storage["live_region"], no_storage["storage_status"], no_storage["complies"]) == (
        "", "NO_STORAGE_ENABLED", "no")
    assert no_storage["name"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert len({r["read_at"] for r in rows.values()}) == 1


def test_report_json_with_state_shows_the_last_applied_change_and_when(project, tmp_path):
    now = datetime.now(timezone.utc)
    cutover = iso(now - timedelta(hours=3))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({
        REGISTERED_BR: {"applied_steps": ["deregister", "settings", "register"],
                        "registration_calls": [iso(now - timedelta(hours=3, minutes=1)), cutover]},
        REGISTERED_DEFAULT: {"applied_steps": [], "registration_calls": []},
    }, modified="2026-11-02T08:15:42.123456789Z")))
    code, out, _ = run("report", "--stack", "test", "--format", "json", "--state", str(state),
                       project_dir=project(IN_SYNC))
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0 and data["error"] is None
    assert data["reads_pulumi_state"] is True and data["allowed_regions"] is None
    by_id = {n["phone_number_id"]: n for n in data["numbers"]}
    assert by_id[REGISTERED_BR]["last_applied_steps"] == ["deregister", "settings", "register"]
    assert by_id[REGISTERED_BR]["last_applied_at"] == cutover  # the newest register call
    assert by_id[REGISTERED_DEFAULT]["last_applied_steps"] == []
    assert by_id[REGISTERED_DEFAULT]["last_applied_at"] == "2026-11-02T08:15:42Z"  # the resource's `modified`
    assert data["summary"] == {"numbers": 2, "comply": 2, "do_not_comply": 0, "unknown": 0, "pending": 0}
    markdown = run("report", "--stack", "test", "--state", str(state), project_dir=project(IN_SYNC))[1]
    assert f"| deregister, settings, register | {cutover} |" in markdown and "| no change | 2026-11-02T08:15:42Z |" in markdown


def test_report_exits_7_when_a_number_does_not_match_its_declaration(project, emulator):
    _to_in(emulator, REGISTERED_BR)
    code, out, _ = run("report", "--stack", "test", "--format", "json", project_dir=project(IN_SYNC))
    data = json.loads(out)
    assert code == 7 and data["summary"]["do_not_comply"] == 1
    assert {n["phone_number_id"]: n["complies"] for n in data["numbers"]} == {
        REGISTERED_DEFAULT: True, REGISTERED_BR: False}


def test_report_exits_1_when_a_number_cannot_be_read(project):
    code, out, _ = run("report", "--stack", "test", "--format", "json",
                       project_dir=project({**IN_SYNC, "106540352240000": {"region": "BR"}}))
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and "could not be read" in data["error"]
    unreadable = next(n for n in data["numbers"] if n["phone_number_id"] == "106540352240000")
    assert unreadable["complies"] is None and "cannot see number 106540352240000" in unreadable["error"]


def test_report_on_an_invalid_entry_says_so_rather_than_that_a_number_could_not_be_read(project):
    code, out, _ = run("report", "--stack", "test", "--format", "json",
                       project_dir=project({**IN_SYNC, REGISTERED_BR: {"region": "UK", "pin": "123456"}}))
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1
    assert data["error"] == "1 invalid entry in the stack file (see numbers[].error)"
    invalid = next(n for n in data["numbers"] if n["phone_number_id"] == REGISTERED_BR)
    assert invalid["complies"] is None and invalid["error"].startswith("invalid declaration: ")
