"""`python -m provider`: plan, drift, verify and regions against the emulator.

Most tests call `provider.cli.main([...])` in-process with a temporary project (Pulumi.yaml and
stacks/Pulumi.<stack>.yaml pointing at the emulator); one runs `python -m provider plan --stack
local` as a subprocess against a subprocess emulator, with the repository's own local stack file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone


from emulator.harness import start_emulator
from emulator.seed import (
    COEXISTENCE,
    NO_STORAGE,
    NOT_VERIFIED,
    REGISTERED_BR,
    REGISTERED_DEFAULT,
    UNREGISTERED,
)
from provider import __version__, zones
from tests.cli.support import IN_SYNC, LOCAL_NUMBERS, ROOT, iso, mutating_calls, run, state_export

# -- plan ---------------------------------------------------------------------------------------


def test_plan_text_shows_each_number_live_to_declared_with_the_exact_calls_and_reads_only(project, emulator):
    code, out, _ = run("plan", "--stack", "test", project_dir=project(LOCAL_NUMBERS))
    assert code == 0
    assert f"{UNREGISTERED}  will change  acme-india" in out
    assert "live:      DEFAULT (Meta default storage), not registered" in out
    assert "declared:  IN (India), registered (PIN declared)" in out
    assert "calls:     settings(IN) -> register" in out
    assert f"{REGISTERED_BR}  in sync" not in out  # nothing to say: counted, not listed
    assert "2 in sync (not listed: --show-sames lists them)." in out
    assert "Summary: 3 numbers: 1 to change, 2 in sync, 0 refused by preflight, 0 errors." in out
    assert "does not read Pulumi state" in out and "declared in code" in out
    assert "123456" not in out  # PINs are never printed
    assert mutating_calls(emulator) == []


def test_plan_markdown_is_a_pull_request_comment_most_urgent_first(project):
    numbers = {UNREGISTERED: {"region": "IN", "pin": "123456"},
               REGISTERED_DEFAULT: {"region": "BR", "pin": "123456", "name": "support | main"},
               REGISTERED_BR: {"region": "BR"}}
    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", project_dir=project(numbers))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "### WhatsApp Local Storage plan: stack `test`"
    table = [line for line in lines if line.startswith("| `")]
    assert [row.split("`")[1] for row in table] == [REGISTERED_DEFAULT, UNREGISTERED]  # offline first; in sync: counted
    assert "1 in sync (not listed: --show-sames lists them)." in out
    assert table[0] == (f"| `{REGISTERED_DEFAULT}` | support \\| main | will change | DEFAULT, registered | "
                        "BR, registered | deregister → settings(BR) → register | yes | ok |")
    assert f"#### `{REGISTERED_DEFAULT}` (support \\| main, +1 555-0100): will change" in out
    assert "- **offline**: yes: from deregister until register succeeds" in out
    assert "pulumi up` refuses this cutover: the number is new to the stack" in out  # no --state: a warning
    assert f"#### `{REGISTERED_BR}`" not in out  # in sync: counted only
    assert lines[-1].startswith("> ") and "does not read Pulumi state" in lines[-1]
    assert out == run("plan", "--stack", "test", "--format", "markdown", project_dir=project(numbers))[1]


def test_plan_json_has_stable_keys_and_shows_what_preflight_refuses(project, emulator):
    numbers = {**LOCAL_NUMBERS,
               NOT_VERIFIED: {"region": "DE", "pin": "123456"},
               COEXISTENCE: {"region": "GB", "pin": "123456"},
               NO_STORAGE: {"region": "SG", "pin": "123456"}}
    code, out, _ = run("plan", "--stack", "test", "--format", "json", project_dir=project(numbers))
    assert code == 1  # `pulumi up` would refuse some numbers
    data = json.loads(out)
    assert list(data) == sorted(data)
    assert data["reads_pulumi_state"] is False and "declared in code" in data["note"]
    by_id = {n["phone_number_id"]: n for n in data["numbers"]}
    assert [n["phone_number_id"] for n in data["numbers"]] == sorted(by_id, key=lambda i: (len(i), i))
    india = by_id[UNREGISTERED]
    assert india["status"] == "change" and india["calls"] == ["settings(IN)", "register"]
    assert india["offline"] is False and india["preflight"] == {"ok": True, "problems": []}
    assert india["declared"]["pin"] == "plain" and india["live"]["registered"] is False
    assert by_id[NOT_VERIFIED]["status"] == "refused"
    assert any("python -m provider verify --phone-number-id" in p for p in by_id[NOT_VERIFIED]["preflight"]["problems"])
    assert any("WhatsApp Business app" in p for p in by_id[COEXISTENCE]["preflight"]["problems"])
    assert by_id[COEXISTENCE]["offline"] is True
    assert any("NO_STORAGE_ENABLED" in p for p in by_id[NO_STORAGE]["preflight"]["problems"])
    assert data["summary"] == {"numbers": 6, "in_sync": 2, "change": 1, "refused": 3, "error": 0,
                               "removed": 0, "drift": 4, "blocked_changes": 0, "invalid": 0,
                               "policy_violations": 0, "pending": 0}
    assert data["error"] == "3 numbers refused by preflight" and data["exit_code"] == 1
    assert mutating_calls(emulator) == []


def test_plan_with_state_shows_the_register_budget_and_refuses_what_would_exceed_it(project, tmp_path):
    now = datetime.now(timezone.utc)
    recent = [iso(now - timedelta(hours=h)) for h in range(1, 10)]  # 9 calls in the window
    old = [iso(now - timedelta(hours=80))]                           # outside it: not counted
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({
        REGISTERED_DEFAULT: {"registration_calls": recent + old, "on_delete": "retain"},
        REGISTERED_BR: {"registration_calls": recent[:2]},
    })))
    numbers = {REGISTERED_DEFAULT: {"region": "BR", "pin": "123456"},   # cutover needs 2, 1 left
               REGISTERED_BR: {"region": "DE", "pin": "123456"},        # cutover needs 2, 8 left
               UNREGISTERED: {"region": "IN", "pin": "123456"}}         # new to the stack
    code, out, _ = run("plan", "--stack", "test", "--format", "json", "--state", str(state),
                       project_dir=project(numbers))
    data = json.loads(out)
    by_id = {n["phone_number_id"]: n for n in data["numbers"]}
    assert code == 1 and data["reads_pulumi_state"] is True
    assert by_id[REGISTERED_DEFAULT]["budget"] == {"limit": 10, "used": 9, "left": 1}
    assert any("Meta blocks a number for 72 hours" in p for p in by_id[REGISTERED_DEFAULT]["preflight"]["problems"])
    assert by_id[REGISTERED_BR]["budget"]["left"] == 8 and by_id[REGISTERED_BR]["status"] == "change"
    assert by_id[UNREGISTERED]["in_state"] is False and by_id[UNREGISTERED]["budget"]["left"] == 10

    _, text, _ = run("plan", "--stack", "test", "--state", str(state), project_dir=project(numbers))
    assert "budget:    1 of 10 left in the last 72 hours; this plan uses 2" in text
    assert "does not read Pulumi state" not in text


def test_plan_with_state_refuses_a_cutover_on_create_and_shows_removed_numbers(project, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({
        REGISTERED_BR: {"on_delete": "disable", "pin": {"4dabf18193072939515e22adb298388d":
                                                        "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}},
        "106540352242999": {"on_delete": "retain"},
    })))
    numbers = {REGISTERED_DEFAULT: {"region": "IN", "pin": "123456"}}  # registered, not in state: a create
    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", "--state", str(state),
                       project_dir=project(numbers))
    assert code == 1
    assert "the number is new to the stack, so `pulumi up` creates its resource" in out
    assert "A create never cuts a number over" in out
    assert (f"| `{REGISTERED_BR}` |  | removed | BR, registered | removed (on_delete=disable) | "
            "deregister → settings(DEFAULT) → register | yes | ok | 10 of 10 |") in out
    assert "| `106540352242999` |  | removed | unknown | removed (on_delete=retain) | - | - | - |" in out
    assert "on_delete=retain makes no call" in out


def test_a_secure_pin_counts_as_declared_and_is_never_printed(project):
    numbers = {UNREGISTERED: {"region": "IN", "pin": {"secure": "v1:abc:def"}}}
    code, out, _ = run("plan", "--stack", "test", "--format", "json", project_dir=project(numbers))
    data = json.loads(out)
    assert code == 0
    assert data["numbers"][0]["preflight"]["ok"] is True and data["numbers"][0]["declared"]["pin"] == "secure"
    assert "v1:abc" not in out and "000000" not in out


def test_a_missing_pin_is_a_preflight_problem_when_the_plan_registers(project):
    code, out, _ = run("plan", "--stack", "test", project_dir=project({UNREGISTERED: {"region": "IN"}}))
    assert code == 1
    assert "REFUSED" in out and "needs its 6-digit two-step PIN" in out


def test_a_secure_access_token_must_come_from_the_environment(project, emulator, monkeypatch):
    directory = project(IN_SYNC, whatsapp__accessToken={"secure": "v1:xyz"})
    code, out, err = run("drift", "--stack", "test", project_dir=directory)
    assert code == 1 and out == ""
    assert "whatsapp:accessToken is encrypted (secure:)" in err and "WHATSAPP_ACCESS_TOKEN" in err
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.token)
    assert run("drift", "--stack", "test", project_dir=directory)[0] == 0


def test_stack_config_wins_over_the_environment_for_the_token(project, monkeypatch):
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAA-fake-wrong-token-from-the-environment")
    assert run("drift", "--stack", "test", project_dir=project(IN_SYNC))[0] == 0


def test_invalid_declarations_are_errors_that_name_the_key_path(project):
    code, out, _ = run("plan", "--stack", "test", project_dir=project({UNREGISTERED: {"region": "EU", "pin": "1"}}))
    assert code == 1
    assert f'phoneNumbers["{UNREGISTERED}"].region: region \'EU\' is not a Meta region code' in out
    assert f'phoneNumbers["{UNREGISTERED}"].pin: must be exactly 6 digits' in out


def test_a_phone_numbers_value_that_is_not_a_map_is_an_error(project):
    code, out, err = run("plan", "--stack", "test", project_dir=project([REGISTERED_DEFAULT]))
    assert code == 1 and out == ""
    assert "whatsapp-local-storage:phoneNumbers in" in err and "must be a map keyed by phone number ID" in err


# -- drift --------------------------------------------------------------------------------------


def test_drift_exits_0_when_every_number_matches(project):
    code, out, _ = run("drift", "--stack", "test", project_dir=project(IN_SYNC))
    assert code == 0
    assert "2 numbers: 2 in sync." in out


def test_drift_exits_7_after_an_out_of_band_change(project, emulator):
    directory = project(IN_SYNC)
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    code, out, _ = run("drift", "--stack", "test", "--format", "json", project_dir=directory)
    assert code == 7
    data = json.loads(out)
    drifted = [n for n in data["numbers"] if n["drift"]]
    assert [n["phone_number_id"] for n in drifted] == [REGISTERED_BR]
    assert drifted[0]["live"]["region"] == "IN" and drifted[0]["declared"]["region"] == "BR"
    assert drifted[0]["calls"] == ["deregister", "settings(BR)", "register"]
    assert data["exit_code"] == 7 and data["summary"]["drift"] == 1


def test_drift_reports_a_no_storage_number_declared_with_a_region(project):
    code, out, _ = run("drift", "--stack", "test", project_dir=project({NO_STORAGE: {"region": "SG", "pin": "123456"}}))
    assert code == 7
    assert f"{NO_STORAGE}  DRIFT" in out and "NO_STORAGE_ENABLED (not managed by this provider)" in out


def test_drift_exits_1_when_the_token_is_rejected_and_never_prints_it(project):
    token = "EAA-fake-token-the-emulator-rejects-42"
    code, out, err = run("drift", "--stack", "test", project_dir=project(IN_SYNC, whatsapp__accessToken=token))
    assert code == 1
    assert "access token was rejected" in err
    assert token not in out + err


def test_drift_exits_1_when_a_number_is_not_visible(project):
    code, out, _ = run("drift", "--stack", "test", "--format", "markdown",
                       project_dir=project({**IN_SYNC, "106540352240000": {"region": "BR"}}))
    assert code == 1
    assert "cannot see number 106540352240000: deleted, or the token lacks permission" in out


def test_drift_exits_2_on_usage_errors(project, tmp_path):
    directory = project(IN_SYNC)
    code, _, err = run("drift", "--stack", "nosuchstack", project_dir=directory)
    assert code == 2 and "no stack file for stack 'nosuchstack'" in err and "stacks with a file: test" in err
    assert run("drift", project_dir=directory)[0] == 2                      # --stack missing
    assert run("drift", "--stack", "test", "--format", "yaml", project_dir=directory)[0] == 2
    code, _, err = run("drift", "--stack", "test", "--state", str(tmp_path / "missing.json"), project_dir=directory)
    assert code == 2 and "cannot read the state file" in err


# -- verify and regions -------------------------------------------------------------------------


def test_verify_requests_a_code_prompts_for_it_and_verifies_the_number(project, emulator, monkeypatch):
    directory = project({})
    prompts = []

    def type_the_code(prompt: str) -> str:
        prompts.append(prompt)
        return emulator.number(NOT_VERIFIED)["verification_code"]

    monkeypatch.setattr("builtins.input", type_the_code)
    code, out, _ = run("verify", "--phone-number-id", NOT_VERIFIED, "--method", "voice", "--stack", "test",
                       project_dir=directory)
    assert code == 0, out
    assert prompts and "code" in prompts[0]
    assert emulator.number(NOT_VERIFIED)["code_verification_status"] == "VERIFIED"
    assert f"{NOT_VERIFIED}: code_verification_status VERIFIED." in out
    calls = [(c["path"].rsplit("/", 1)[-1], c["query"]) for c in mutating_calls(emulator)]
    assert calls[0] == ("request_code", {"code_method": "VOICE", "language": "en_US"})
    assert calls[1][0] == "verify_code"


def test_verify_with_a_code_only_sends_verify_code_and_reports_graph_errors(emulator, monkeypatch):
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.token)
    monkeypatch.setenv("WHATSAPP_GRAPH_API_URL", emulator.url)
    code, out, err = run("verify", "--phone-number-id", NOT_VERIFIED, "--code", "123830")
    assert code == 1
    assert "request_code first" in err
    assert [c["path"].rsplit("/", 1)[-1] for c in mutating_calls(emulator)] == ["verify_code"]


def test_regions_lists_every_code_by_area_and_default():
    code, out, _ = run("regions")
    assert code == 0
    for text in ("APAC", "IN  India", "BR  Brazil", "DE  EU (Germany)", "GB  United Kingdom", "CA  Canada",
                 "DEFAULT  Meta's default storage"):
        assert text in out
    assert out.count("\n    ") == 15


# -- the real command line ----------------------------------------------------------------------


def test_python_m_provider_plan_reads_the_local_stack_file(tmp_path):
    emu = start_emulator(seed="demo", subprocess=True)
    try:
        (tmp_path / "stacks").mkdir()
        (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
        local = (ROOT / "stacks" / "Pulumi.local.yaml").read_text()
        assert "http://127.0.0.1:8787" in local
        (tmp_path / "stacks" / "Pulumi.local.yaml").write_text(local.replace("http://127.0.0.1:8787", emu.url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
        env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run([sys.executable, "-m", "provider", "plan", "--stack", "local"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "plan for stack local (stacks/Pulumi.local.yaml)" in done.stdout
        assert f"{UNREGISTERED}  will change  acme-india" in done.stdout
        assert "calls:     settings(IN) -> register" in done.stdout
        assert "Summary: 3 numbers: 1 to change, 2 in sync, 0 refused by preflight, 0 errors." in done.stdout
        assert [c for c in emu.calls() if c["method"] == "POST"] == []
        version = subprocess.run([sys.executable, "-m", "provider", "--version"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert (version.returncode, version.stdout) == (
            0, f"python -m provider {__version__}, time zones tzdata {zones.VERSION} (IANA {zones.IANA_VERSION})\n")
    finally:
        emu.stop()


def test_plan_with_state_refuses_disabling_a_removed_number_when_default_is_not_an_allowed_region(project, tmp_path):
    """The plan shows what the provider's preflight will do: on_delete=disable would move the number to
    DEFAULT, which the stack's policy does not allow, so `pulumi up` refuses that delete."""
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({
        REGISTERED_BR: {"on_delete": "disable", "pin": {"4dabf18193072939515e22adb298388d":
                                                        "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}},
    })))
    numbers = {REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456"}}
    code, out, _ = run("plan", "--stack", "test", "--format", "json", "--state", str(state),
                       project_dir=project(numbers, **{"whatsapp-local-storage__allowedRegions": ["BR", "IN"]}))
    removed = {n["phone_number_id"]: n for n in json.loads(out)["numbers"]}[REGISTERED_BR]
    assert removed["status"] == "removed"
    assert any("outside whatsapp-local-storage:allowedRegions" in p for p in removed["preflight"]["problems"])
