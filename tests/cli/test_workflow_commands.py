"""Issue 29, items 1 and 9: no workflow command from a pull request or the Graph API reaches a CI log,
and no secret reaches any output.

GitHub's runner finds ``##[`` anywhere in a line (``message.IndexOf("##[")``), not only at its
start: a stack file's value in the middle of an error forged an annotation in the job that holds
the secrets. Every way in the issue lists is tried here, in every stream: the command line's
stdout and stderr in each format, the stack program's error, and the provider's errors and
progress lines as the engine sees them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT
from provider import cli, escape, redact
from tests.engine import Engine
from tests.project.program import NUMBERS_KEY, run_program
from tests.reliability_report import engine_config

FORGED = "##[error title=Security notice]Meta token leaked - rotate it at https://evil.example"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def no_workflow_command(text: str) -> None:
    """What the runner would act on: ``##[`` anywhere, ``::`` at a line start (after white space)."""
    assert "##[" not in text, text
    for line in text.replace("\r", "\n").split("\n"):
        assert not line.lstrip().startswith("::"), line


def project(tmp_path: Path, emulator: Emulator, config: dict | None = None, *, raw: str | None = None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir(exist_ok=True)
    base = {"whatsapp:accessToken": emulator.token, "whatsapp:graphApiUrl": emulator.url,
            "whatsapp:apiVersion": "v25.0",
            "whatsapp-local-storage:phoneNumbers": {REGISTERED_BR: {"region": "BR", "pin": DEMO_PIN}}}
    text = raw if raw is not None else yaml.safe_dump({"config": {**base, **(config or {})}})
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("setting", ["whatsapp:apiVersion", "whatsapp-local-storage:allowedRegions",
                                     "whatsapp:maxConcurrentCutovers", "whatsapp:graphApiUrl"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_stack_setting_with_a_workflow_command_mid_line_is_escaped_in_the_error(
        tmp_path: Path, emulator: Emulator, setting: str, fmt: str) -> None:
    value: object = [FORGED] if setting.endswith("allowedRegions") else FORGED
    path = project(tmp_path, emulator, {setting: value})
    code, out, err = run("plan", "--stack", "test", "--project-dir", str(path), "--format", fmt)
    assert code in (1, 2), err
    no_workflow_command(out + err)
    assert "error title=Security notice" in err, "the value is shown, neutralised, not dropped"
    if fmt == "json":
        assert json.loads(out)["exit_code"] == code


def test_a_yaml_error_names_line_and_column_and_quotes_nothing(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator, raw=f'config:\n  whatsapp:apiVersion: "{FORGED}\n  x: [\n')
    code, out, err = run("plan", "--stack", "test", "--project-dir", str(path))
    assert code == 2
    no_workflow_command(out + err)
    assert "is not valid YAML at line" in err and "column" in err
    assert "Security notice" not in err and "evil.example" not in err, "no snippet of the file"


def test_stack_file_names_are_escaped_where_an_error_lists_them(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator)
    (path / "stacks" / "Pulumi.##[error]forged.yaml").write_text("config: {}\n")
    (path / "stacks" / "Pulumi.a\n::warning::b.yaml").write_text("config: {}\n")
    code, _, err = run("plan", "--stack", "nosuch", "--project-dir", str(path))
    assert code == 2 and "stacks with a file:" in err
    no_workflow_command(err)
    assert "a\\n::warning::b" in err, "the line break in a file name is shown, not written"


@pytest.mark.parametrize("command, fmt", [("plan", "text"), ("plan", "markdown"), ("plan", "json"),
                                          ("drift", "text"), ("report", "markdown"), ("report", "csv"),
                                          ("report", "json")])
def test_a_name_with_a_workflow_command_mid_line_is_escaped_in_every_format(
        tmp_path: Path, emulator: Emulator, command: str, fmt: str) -> None:
    name = f"support {FORGED}\n::warning::x"
    numbers = {REGISTERED_BR: {"region": "BR", "pin": DEMO_PIN, "name": name}}
    path = project(tmp_path, emulator, {"whatsapp-local-storage:phoneNumbers": numbers})
    code, out, err = run(command, "--stack", "test", "--project-dir", str(path), "--format", fmt)
    assert code == 0, err
    no_workflow_command(out + err)
    if fmt == "json":  # escaped as JSON escapes it: a reader gets the name back exactly
        document = json.loads(out)
        assert name in [n.get("name") for n in document["numbers"]], document


def test_imports_verified_name_is_escaped_in_yaml_and_json(tmp_path: Path, emulator: Emulator) -> None:
    emulator.patch(REGISTERED_DEFAULT, verified_name=f"Acme {FORGED}")
    path = project(tmp_path, emulator, {"whatsapp-local-storage:phoneNumbers": {}})
    for fmt in ("yaml", "json"):
        code, out, err = run("import", "--stack", "test", "--waba-id", DEMO_WABA_ID, "--project-dir", str(path),
                             "--format", fmt)
        assert code == 0, err
        no_workflow_command(out + err)
    assert f"Acme {FORGED}" in json.loads(out)["add"][REGISTERED_DEFAULT]["name"]


def test_the_stack_programs_error_escapes_keys_and_values() -> None:
    """`"1\\n::warning::id"` as a key started a line with `::warning::` in `pulumi up`'s output."""
    numbers = {"1\n::warning::id": {"region": "BR"}, REGISTERED_BR: {"region": FORGED}}
    result = run_program({NUMBERS_KEY: json.dumps(numbers)})
    message = result["error"]["message"]
    assert "2 problems; no resource was declared" in message
    no_workflow_command(message)
    assert "1\\n::warning::id" in message


def test_the_providers_errors_and_progress_lines_carry_no_workflow_command(emulator: Emulator) -> None:
    """What Pulumi prints from the provider: its error (a Graph message inside) and its stderr."""
    emulator.fault("POST", f"/{REGISTERED_BR}/settings", code=131009,
                   error_data={"details": f"bad value {FORGED}\n::add-mask::x"})
    eng = Engine(engine_config(emulator), continue_on_error=True, skip_preview=True)
    eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "BR", "pin": DEMO_PIN}})
    step = eng.up({"n": {"phone_number_id": REGISTERED_BR, "region": "IN", "pin": DEMO_PIN}})["n"]
    assert step.error is not None
    no_workflow_command(step.error.details)
    no_workflow_command(eng.last_stderr)
    assert "error title=Security notice" in step.error.details


# -- redaction ------------------------------------------------------------------------------------

PIN = "730519"


def test_a_pin_is_masked_only_as_a_whole_run_of_digits() -> None:
    redact.register_pin(PIN)
    urn = f"urn:pulumi:prod::whatsapp-local-storage::x::10{PIN}22"
    assert redact.redact(f"id 1{PIN}9, {urn}, code {PIN}.") == f"id 1{PIN}9, {urn}, code ***."
    assert redact.redact(f"pin={PIN}7") == "pin=***", "a `pin=` field is masked whatever it holds"


@pytest.mark.parametrize("command, fmt", [("plan", "text"), ("plan", "markdown"), ("plan", "json"),
                                          ("report", "csv"), ("report", "json")])
def test_a_plain_pin_read_from_the_stack_file_is_masked_in_every_rendered_output(
        tmp_path: Path, emulator: Emulator, command: str, fmt: str) -> None:
    """A plain PIN echoed back (here: in a name, as a careless edit or a server would) is masked,
    while an ID holding the same digits is printed intact."""
    numbers = {REGISTERED_BR: {"region": "BR", "pin": "481236", "name": "line 481236 of 1481236"}}
    path = project(tmp_path, emulator, {"whatsapp-local-storage:phoneNumbers": numbers})
    every = ["--show-sames"] if command == "plan" else []  # the number is in sync: listed only then
    code, out, err = run(command, "--stack", "test", "--project-dir", str(path), "--format", fmt, *every)
    assert code == 0, err
    assert not re.search(r"(?<![0-9])481236(?![0-9])", out + err) and "line *** of 1481236" in out


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_plain_pin_read_from_the_stack_file_is_masked_in_imports_output(
        tmp_path: Path, emulator: Emulator, fmt: str) -> None:
    """`import` proposes the account's other numbers with their verified names: a name that holds a
    declared PIN (a careless edit in WhatsApp Manager) is masked, while IDs with the same digits are not."""
    emulator.patch(REGISTERED_DEFAULT, verified_name="line 481236 of 1481236")
    numbers = {REGISTERED_BR: {"region": "BR", "pin": "481236"}}
    path = project(tmp_path, emulator, {"whatsapp-local-storage:phoneNumbers": numbers})
    code, out, err = run("import", "--stack", "test", "--project-dir", str(path), "--waba-id", DEMO_WABA_ID,
                         "--format", fmt)
    assert code == 0, err
    assert REGISTERED_DEFAULT in out, "the number whose name holds the PIN is proposed"
    assert not re.search(r"(?<![0-9])481236(?![0-9])", out + err) and "line *** of 1481236" in out


def test_a_pin_sent_to_a_server_that_echoes_it_is_masked_in_the_error(emulator: Emulator) -> None:
    from provider.client import GraphClient
    from provider.config import ProviderConfig
    from provider import errors

    emulator.fault("POST", f"/{REGISTERED_BR}/register", code=133005,
                   error_data={"details": "PIN 604213 does not match"})
    client = GraphClient(ProviderConfig.parse({"access_token": emulator.token, "graph_api_url": emulator.url},
                                              env={}))
    try:
        with pytest.raises(errors.PinMismatch) as caught:
            client.register(REGISTERED_BR, "604213")
    finally:
        client.close()
    assert "604213" not in str(caught.value) and "PIN *** does not match" in str(caught.value)


def test_a_csv_cell_with_spaces_before_a_formula_is_prefixed(tmp_path: Path, emulator: Emulator) -> None:
    numbers = {REGISTERED_BR: {"region": "BR", "pin": DEMO_PIN, "name": '   =HYPERLINK("https://evil.example")'}}
    path = project(tmp_path, emulator, {"whatsapp-local-storage:phoneNumbers": numbers})
    code, out, _ = run("report", "--stack", "test", "--project-dir", str(path), "--format", "csv")
    assert code == 0
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["name"].startswith("'") and row["name"].lstrip("'").lstrip().startswith("=")


def test_dollar_signs_cannot_start_githubs_math_in_markdown() -> None:
    assert "$" not in escape.markdown("costs $5 or $$x^2$$")
    assert escape.markdown("$x$") == "&#36;x&#36;"
