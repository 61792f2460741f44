"""`python -m provider import`: adopting the numbers a team already has, against the emulator.

The client asks for 100 numbers a page (Meta's maximum), so the second business account here
holds 205 numbers: 3 pages, as a team with hundreds of numbers would see. The end-to-end test writes a stack file, checks that `plan` finds every imported number in
sync, and runs an engine-protocol `pulumi up` of the written entries (tests/engine.py) that must
adopt every number with zero mutating calls.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from emulator.seed import (
    COEXISTENCE,
    DEMO_PIN,
    DEMO_WABA_ID,
    NO_STORAGE,
    NOT_VERIFIED,
    REGISTERED_BR,
    REGISTERED_DEFAULT,
    UNREGISTERED,
)
from provider import cli
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.inputs import from_stack_entry
from provider.onboard.proposal import Found, Proposal
from provider.onboard import stackedit
from provider.onboard.stackedit import merge, write_atomically
from provider.stackfile import StackFileError
from tests.engine import Engine

OTHER_WABA = "300000000000001"
OTHER_IDS = [f"200000000000{i:03d}" for i in range(205)]  # 3 pages of up to 100
NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"
ADOPTABLE = {REGISTERED_DEFAULT, REGISTERED_BR, COEXISTENCE, *OTHER_IDS}


@pytest.fixture
def two_accounts(emulator):
    """The demo account (6 numbers) and a second one with 205 registered numbers in DE."""
    for number_id in OTHER_IDS:
        emulator.add_number(id=number_id, waba_id=OTHER_WABA, settings={"storage_configuration": {
            "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "DE"}})
    return emulator


def stack_file(project_dir: Path, text: str, stack: str = "prod") -> Path:
    path = project_dir / "stacks" / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def connection(emu) -> str:
    return (f"config:\n  whatsapp:graphApiUrl: {emu.url}\n  whatsapp:accessToken: {emu.token}\n"
            "  whatsapp:apiVersion: v25.0\n")


def run_import(project_dir: Path, *args: str, stack: str = "prod", wabas=(DEMO_WABA_ID, OTHER_WABA)):
    out, err = io.StringIO(), io.StringIO()
    argv = ["import", "--stack", stack, *[a for w in wabas for a in ("--waba-id", w)], *args,
            "--project-dir", str(project_dir)]
    code = cli.main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def declared(path: Path) -> dict:
    return (yaml.safe_load(path.read_text())["config"] or {}).get(NUMBERS_KEY) or {}


def methods(emu) -> set[str]:
    return {call["method"] for call in emu.calls()}


# -- end to end ---------------------------------------------------------------------------------


def test_import_write_then_plan_is_in_sync_and_up_adopts_every_number_with_zero_mutating_calls(
        two_accounts, project_dir, capsys):
    emu = two_accounts
    path = stack_file(project_dir, connection(emu))
    code, out, _ = run_import(project_dir, "--write")
    assert code == 0, out
    assert methods(emu) == {"GET"}
    listing = [c for c in emu.calls() if c["path"].endswith("/phone_numbers")]
    assert len(listing) == 1 + 3  # every page of both accounts (6 and 205 numbers)
    numbers = declared(path)
    assert set(numbers) == ADOPTABLE
    assert numbers[REGISTERED_BR] == {"region": "BR", "name": "Acme Brasil", "wabaId": DEMO_WABA_ID}
    assert numbers[OTHER_IDS[-1]] == {"region": "DE", "name": "Test Number 0204", "wabaId": OTHER_WABA}
    assert all("pin" not in entry for entry in numbers.values())
    assert "Wrote these entries to stacks/Pulumi.prod.yaml" in out

    capsys.readouterr()
    plan = io.StringIO()
    assert cli.main(["plan", "--stack", "prod", "--format", "json", "--project-dir", str(project_dir)], out=plan) == 0
    report = json.loads(plan.getvalue())
    assert {n["phone_number_id"]: n["status"] for n in report["numbers"]} == {i: "in_sync" for i in ADOPTABLE}

    program = {}
    for number_id, entry in numbers.items():
        declaration, failures = from_stack_entry(number_id, {**entry, "pin": DEMO_PIN}, today=date.today())
        assert failures == [] and declaration is not None
        program[number_id] = declaration.as_inputs()
    emu.clear_calls()
    engine = Engine({"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url,
                     "whatsapp:apiVersion": "v25.0"})
    steps = engine.up(program)
    assert {name: (step.op, step.error) for name, step in steps.items()} == {i: ("create", None) for i in ADOPTABLE}
    assert all(step.outputs["applied_steps"] == [] for step in steps.values())
    assert methods(emu) == {"GET"}


def test_a_hand_written_comment_in_an_existing_stack_file_survives_write(two_accounts, project_dir):
    before = (connection(two_accounts)
              + "  # Numbers are reviewed by the payments team before every change.\n"
              + f"  {NUMBERS_KEY}:\n"
              + f"    \"{REGISTERED_BR}\":   # Brazil: do not move, contract BR-7\n"
              + "      region: BR\n      pin:\n        secure: v1:abcdef\n"
              + "  whatsapp:maxConcurrentCutovers: 1  # one number offline at a time\n")
    path = stack_file(project_dir, "# Production numbers. Owner: platform team.\n" + before)
    original = path.read_text()
    code, _, _ = run_import(project_dir, "--write")
    assert code == 0
    after = path.read_text()
    removed = [line for line in difflib.ndiff(original.splitlines(), after.splitlines()) if line.startswith("- ")]
    assert removed == []
    assert "  # Numbers are reviewed by the payments team before every change.\n" in after
    assert f"    \"{REGISTERED_BR}\":   # Brazil: do not move, contract BR-7\n" in after
    assert after.index("maxConcurrentCutovers") > after.index(OTHER_IDS[-1])  # key order kept
    assert re.search(rf'\n    "{COEXISTENCE}": +# shared with the WhatsApp Business app: adopted as it is; '
                     'it can never be cut over', after)


# -- what is proposed ----------------------------------------------------------------------------


def test_numbers_that_must_not_be_adopted_as_they_are_stay_out_with_the_reason(emulator, project_dir):
    emulator.add_number(id="200000000000009", settings={"storage_configuration": {"status": "SOMETHING_NEW"}})
    stack_file(project_dir, connection(emulator))
    code, out, _ = run_import(project_dir, "--format", "json", wabas=(DEMO_WABA_ID,))
    assert code == 0
    data = json.loads(out)
    reasons = {item["phone_number_id"]: " ".join(item["reasons"]) for item in data["left_out"]}
    assert set(reasons) == {UNREGISTERED, NOT_VERIFIED, NO_STORAGE, "200000000000009"}
    assert "not registered" in reasons[UNREGISTERED] and "would register it" in reasons[UNREGISTERED]
    assert "not verified" in reasons[NOT_VERIFIED] and f"verify --phone-number-id {NOT_VERIFIED}" in reasons[NOT_VERIFIED]
    assert "No Storage" in reasons[NO_STORAGE]
    assert "unknown storage" in reasons["200000000000009"]
    assert set(data["add"]) == {REGISTERED_DEFAULT, REGISTERED_BR, COEXISTENCE}
    assert "can never be cut over" in data["notes"][COEXISTENCE][0]
    assert data["written"] is False and data["exit_code"] == 0 and data["error"] is None


def test_declared_numbers_are_never_changed_and_their_differences_are_listed(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator) + f"  {NUMBERS_KEY}:\n"
                      f"    \"{REGISTERED_DEFAULT}\": {{region: BR, name: mine, wabaId: \"{OTHER_WABA}\"}}\n"
                      f"    {REGISTERED_BR}:\n      region: BR\n")
    code, out, _ = run_import(project_dir, "--write", "--format", "json", wabas=(DEMO_WABA_ID,))
    assert code == 0
    data = json.loads(out)
    numbers = declared(path)
    assert numbers[REGISTERED_DEFAULT] == {"region": "BR", "name": "mine", "wabaId": OTHER_WABA}
    assert numbers[int(REGISTERED_BR)] == {"region": "BR"}  # written unquoted, so YAML reads an int
    assert set(data["add"]) == {COEXISTENCE}
    diffs = {item["phone_number_id"]: item["differences"] for item in data["declared"]}
    assert diffs[REGISTERED_BR] == []
    assert diffs[REGISTERED_DEFAULT] == [
        f"wabaId: declared {OTHER_WABA}, listed in {DEMO_WABA_ID}",
        "region: declared BR (Brazil), live DEFAULT (Meta default storage)",
        "`pulumi up` would call: deregister -> settings(BR) -> register; the number goes offline in between",
    ]


def test_numbers_outside_allowed_regions_are_flagged_and_left_out(two_accounts, project_dir):
    path = stack_file(project_dir, connection(two_accounts) + "  whatsapp-local-storage:allowedRegions: [DE, BR]\n")
    code, out, _ = run_import(project_dir, "--write")
    assert code == 0
    assert set(declared(path)) == {REGISTERED_BR, *OTHER_IDS}
    assert f"#   {REGISTERED_DEFAULT}  +1 555-0100  Acme Support\n#     - its live storage DEFAULT" in out
    assert "outside whatsapp-local-storage:allowedRegions (BR, DE)" in out


def test_it_never_writes_a_pin_and_prints_the_commands_still_needed(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator) + f"  {NUMBERS_KEY}:\n"
                      f"    \"{REGISTERED_BR}\":\n      region: BR\n      pin: \"{DEMO_PIN}\"\n")
    code, out, _ = run_import(project_dir, "--write", wabas=(DEMO_WABA_ID,))
    assert code == 0
    assert path.read_text().count(DEMO_PIN) == 1
    assert f"pulumi config set --path --secret 'phoneNumbers[\"{REGISTERED_DEFAULT}\"].pin' --stack prod" in out
    assert f"phoneNumbers[\"{REGISTERED_BR}\"].pin" not in out  # it has one
    assert f"phoneNumbers[\"{COEXISTENCE}\"].pin" not in out  # never cut over: a PIN would never be used
    assert "pulumi stack init" not in out
    assert DEMO_PIN not in out


# -- printing and writing ---------------------------------------------------------------------------


def test_without_write_it_prints_yaml_on_stdout_progress_on_stderr_and_leaves_the_file(two_accounts, project_dir):
    path = stack_file(project_dir, connection(two_accounts))
    original = path.read_bytes()
    code, out, err = run_import(project_dir)
    assert code == 0
    assert path.read_bytes() == original
    assert set(yaml.safe_load(out)["config"][NUMBERS_KEY]) == ADOPTABLE
    assert "run again with --write" in out
    assert "reading storage: 211 of 211 read" in err and f"listed 205 numbers in WhatsApp Business Account {OTHER_WABA}" in err
    assert "reading storage" not in out
    assert two_accounts.token not in out + err


def test_a_missing_stack_file_is_created_and_the_stack_init_command_printed(emulator, project_dir, monkeypatch):
    monkeypatch.setenv("WHATSAPP_GRAPH_API_URL", emulator.url)
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.token)
    code, out, _ = run_import(project_dir, "--write", stack="acme/whatsapp/eu", wabas=(DEMO_WABA_ID,))
    assert code == 0
    path = project_dir / "stacks" / "Pulumi.eu.yaml"
    assert set(declared(path)) == {REGISTERED_DEFAULT, REGISTERED_BR, COEXISTENCE}
    assert emulator.token not in path.read_text()
    assert "Wrote these entries to stacks/Pulumi.eu.yaml (created)" in out
    assert "#   pulumi stack init acme/whatsapp/eu\n" in out
    assert "'phoneNumbers[\"106540352242922\"].pin' --stack acme/whatsapp/eu\n" in out


def test_nothing_to_add_exits_0_and_leaves_the_file_untouched(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator))
    assert run_import(project_dir, "--write", wabas=(DEMO_WABA_ID,))[0] == 0
    written = path.read_bytes()
    code, out, _ = run_import(project_dir, "--write", wabas=(DEMO_WABA_ID,))
    assert code == 0 and "Nothing to add" in out
    assert path.read_bytes() == written


def test_merge_turns_a_flow_style_empty_map_into_entries_and_keeps_crlf(tmp_path):
    proposal = Proposal(Found("106540352242923", "1"), {"region": "BR", "name": "Acme: support #1", "wabaId": "1"})
    text = f"config:\r\n  {NUMBERS_KEY}: {{}}  # filled by import\r\n"
    merged = merge(text, NUMBERS_KEY, [proposal], path=tmp_path / "Pulumi.x.yaml")
    assert "\r\n" in merged and "\n" not in merged.replace("\r\n", "")
    assert yaml.safe_load(merged)["config"][NUMBERS_KEY] == {"106540352242923": proposal.entry}
    assert "# filled by import" in merged


@pytest.mark.parametrize("name", ["yes", "No", "1:30", "0777", "null", "~", "Acme: support #1", "- dash", "'quoted'"])
def test_a_verified_name_is_written_so_that_every_yaml_reader_reads_it_back_as_text(name, tmp_path):
    proposal = Proposal(Found("106540352242923", "1"), {"region": "BR", "name": name, "wabaId": "1"})
    for before in ("", f"config:\n  {NUMBERS_KEY}:\n    \"1\": {{region: BR}}\n"):
        merged = merge(before, NUMBERS_KEY, [proposal], path=tmp_path / "Pulumi.x.yaml")
        assert yaml.safe_load(merged)["config"][NUMBERS_KEY]["106540352242923"]["name"] == name


@pytest.mark.parametrize("tamper, message", [
    (lambda text: text.replace("  # keep me\n", ""), "would lose the comment '# keep me'"),
    (lambda text: text.replace("maxConcurrentCutovers: 1", "maxConcurrentCutovers: 2"), "change more than"),
])
def test_a_merge_that_would_lose_a_comment_or_change_another_value_is_refused(tamper, message, tmp_path,
                                                                               monkeypatch):
    real = stackedit.dump
    monkeypatch.setattr(stackedit, "dump", lambda data, layout: tamper(real(data, layout)))
    proposal = Proposal(Found("106540352242923", "1"), {"region": "BR", "wabaId": "1"})
    text = f"config:\n  # keep me\n  whatsapp:maxConcurrentCutovers: 1\n  {NUMBERS_KEY}: {{}}\n"
    with pytest.raises(StackFileError, match=message):
        merge(text, NUMBERS_KEY, [proposal], path=tmp_path / "Pulumi.x.yaml")


def test_the_file_is_not_replaced_when_it_changed_while_the_numbers_were_read(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("config: {}\n")
    with pytest.raises(StackFileError, match="changed while the numbers were read"):
        write_atomically(path, "config: {a: 1}\n", b"config: {b: 2}\n")
    assert path.read_text() == "config: {}\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


# -- bad input -------------------------------------------------------------------------------------


def test_a_stack_file_that_is_not_yaml_stops_it_before_any_call(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator) + "  broken: [unclosed\n")
    original = path.read_bytes()
    code, out, _ = run_import(project_dir, "--write", "--format", "json", wabas=(DEMO_WABA_ID,))
    assert code == 2
    data = json.loads(out)
    assert data["exit_code"] == 2 and "is not valid YAML" in data["error"]
    assert emulator.calls() == []
    assert path.read_bytes() == original


def test_an_invisible_business_account_names_the_id_and_the_missing_permission(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator))
    code, out, err = run_import(project_dir, "--write", wabas=(DEMO_WABA_ID, "999999999999999"))
    assert code == 1 and out == ""
    assert "999999999999999" in err and "whatsapp_business_management" in err
    assert "Graph error 100/33" in err
    assert declared(path) == {}  # nothing written when an account cannot be listed
    code, out, _ = run_import(project_dir, "--format", "json", wabas=("999999999999999",))
    assert code == 1 and json.loads(out)["exit_code"] == 1


def test_a_rejected_token_is_one_json_error_that_never_shows_the_token(emulator, project_dir):
    token = "EAAG-not-a-token-the-emulator-accepts-1234"
    path = stack_file(project_dir, connection(emulator).replace(emulator.token, token))
    original = path.read_bytes()
    code, out, err = run_import(project_dir, "--write", "--format", "json", wabas=(DEMO_WABA_ID,))
    assert code == 1
    data = json.loads(out)  # one document
    assert data["exit_code"] == 1 and "access token was rejected" in data["error"]
    assert token not in out + err
    assert path.read_bytes() == original


def test_a_number_whose_storage_cannot_be_read_is_an_error_and_the_others_are_written(emulator, project_dir):
    path = stack_file(project_dir, connection(emulator))
    emulator.fault("GET", f"/{REGISTERED_BR}/settings", code=100, subcode=33, count=None)
    code, out, _ = run_import(project_dir, "--write", "--format", "json", wabas=(DEMO_WABA_ID,))
    assert code == 1
    data = json.loads(out)
    assert [e["phone_number_id"] for e in data["errors"]] == [REGISTERED_BR]
    assert set(declared(path)) == {REGISTERED_DEFAULT, COEXISTENCE}


@pytest.mark.parametrize("argv", [["--stack", "prod"], ["--stack", "prod", "--waba-id", "12ab"],
                                  ["--waba-id", "1"], ["--stack", "prod", "--waba-id", "1", "--format", "csv"]])
def test_usage_errors_exit_2(argv, project_dir, capsys):
    assert cli.main(["import", *argv, "--project-dir", str(project_dir)]) == 2
    assert "usage:" in capsys.readouterr().err


# -- pieces -----------------------------------------------------------------------------------------


def test_the_client_lists_every_page_with_the_fields_asked(two_accounts):
    client = GraphClient(ProviderConfig.parse({"access_token": two_accounts.token,
                                               "graph_api_url": two_accounts.url}))
    try:
        items = client.list_phone_numbers(OTHER_WABA, ("id", "verified_name"))
    finally:
        client.close()
    assert [item["id"] for item in items] == OTHER_IDS[::-1]  # Meta lists the newest onboarded first
    assert items[-1] == {"id": OTHER_IDS[0], "verified_name": "Test Number 0000"}
    queries = [c["query"] for c in two_accounts.calls()]
    assert len(queries) == 3 and queries[0]["fields"] == "id,verified_name" and all(q.get("access_token") in (None, "***") for q in queries)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_read_that_stops_the_import_ends_the_live_counter_before_the_error(emulator, project_dir):
    """On a terminal the counter is a line without its newline; the error must not run on after it."""
    stack_file(project_dir, connection(emulator))
    emulator.fault("GET", f"/{REGISTERED_BR}/settings", status=401, code=190, count=None)
    err = _Terminal()
    argv = ["import", "--stack", "prod", "--waba-id", DEMO_WABA_ID, "--project-dir", str(project_dir)]
    assert cli.main(argv, out=io.StringIO(), err=err) == 1
    said = err.getvalue()
    assert "\rreading storage: " in said
    assert "\npython -m provider import: error: " in said, said


def test_write_refuses_when_pulumi_yaml_declares_the_numbers_before_any_call(emulator, project_dir):
    """Pulumi takes a stack file's value of a key instead of Pulumi.yaml's, whole: writing a
    phoneNumbers map into the stack file would drop the numbers Pulumi.yaml declares, and the next
    `pulumi up` would delete their resources (taking on_delete=disable numbers offline)."""
    (project_dir / "Pulumi.yaml").write_text(
        "name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\nconfig:\n"
        "  phoneNumbers:\n    value:\n"
        f'      "{REGISTERED_DEFAULT}": {{region: DEFAULT, onDelete: disable}}\n')
    path = stack_file(project_dir, connection(emulator))
    original = path.read_bytes()
    code, out, err = run_import(project_dir, "--write", wabas=(DEMO_WABA_ID,))
    assert code == 2, out + err
    assert "Pulumi.yaml" in err and NUMBERS_KEY in err and "stacks/Pulumi.prod.yaml" in err
    assert path.read_bytes() == original
    assert emulator.calls() == []
    code, out, _ = run_import(project_dir, wabas=(DEMO_WABA_ID,))  # printing only is fine
    assert code == 0 and REGISTERED_BR in out


def test_the_printed_commands_never_carry_a_stack_file_key_that_is_not_an_id(emulator, project_dir):
    """The commands are meant to be pasted into a shell: a key from a pull request is not pasted."""
    stack_file(project_dir, connection(emulator) + f"  {NUMBERS_KEY}:\n"
               "    \"'$(touch pwned)'\": {region: BR}\n")
    code, out, err = run_import(project_dir, wabas=(DEMO_WABA_ID,))
    assert "$(touch pwned)" not in "\n".join(line for line in out.splitlines() if "pulumi config set" in line)
    assert "pulumi config set --path --secret" in out, (code, out, err)
