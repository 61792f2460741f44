"""The CLI's GitOps safety: one JSON document on failure, a state file of another stack refused,
an unreachable Graph host reported once, progress on stderr, --version, exit codes in --help,
verify on a verified number, the stack file's spelling in refusals, invalid entries that stop
the whole stack.

Driven like tests/cli/test_cli.py: `provider.cli.main([...])` in-process with a temporary project.
"""

from __future__ import annotations

import io
import json
import socket
from datetime import datetime, timedelta, timezone

import pytest
import tzdata

from emulator.seed import (
    COEXISTENCE,
    NO_STORAGE,
    NOT_VERIFIED,
    REGISTERED_BR,
    REGISTERED_DEFAULT,
    UNREGISTERED,
)
from provider import __version__, cli
from provider import progress
from tests.cli.support import IN_SYNC, LOCAL_NUMBERS, iso, mutating_calls, run, state_export


# -- GitOps safety: JSON on failure, state ownership, unreachable host, progress, help ------------


def test_json_is_one_document_with_error_and_exit_code_when_the_stack_file_is_missing(project):
    code, out, err = run("drift", "--stack", "nosuchstack", "--format", "json", project_dir=project(IN_SYNC))
    assert code == 2
    data = json.loads(out)  # the whole of stdout is one document
    assert data["exit_code"] == 2 and data["command"] == "drift"
    assert "no stack file for stack 'nosuchstack'" in data["error"]
    assert "no stack file" in err


def test_json_is_one_document_when_the_token_is_rejected(project):
    token = "EAA-fake-token-the-emulator-rejects-43"
    code, out, _ = run("plan", "--stack", "test", "--format=json",
                       project_dir=project(IN_SYNC, whatsapp__accessToken=token))
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and "access token was rejected" in data["error"]
    assert token not in out


def test_json_is_one_document_on_an_argument_error(project):
    code, out, err = run("drift", "--format", "json", project_dir=project(IN_SYNC))  # --stack missing
    data = json.loads(out)
    assert code == 2 and data == {"command": "drift", "error": "the following arguments are required: -s/--stack",
                                  "exit_code": 2, "version": __version__}
    assert "usage: python -m provider drift" in err


def test_json_is_one_document_even_when_the_command_has_a_bug(project, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in the assessment")

    monkeypatch.setattr("provider.cli.commands.assess", broken)
    code, out, err = run("plan", "--stack", "test", "--format", "json", project_dir=project(IN_SYNC))
    assert code == 1 and json.loads(out)["error"] == "internal error: RuntimeError: a bug in the assessment"
    assert "Traceback" in err
    with pytest.raises(RuntimeError):  # text: the traceback as Python shows it
        run("plan", "--stack", "test", project_dir=project(IN_SYNC))


def test_a_successful_json_run_says_no_error(project):
    data = json.loads(run("drift", "--stack", "test", "--format", "json", project_dir=project(IN_SYNC))[1])
    assert data["error"] is None and data["exit_code"] == 0 and data["version"] == __version__


@pytest.mark.parametrize("stack, project_name, named", [
    ("prod", "whatsapp-local-storage", "stack 'prod' of project 'whatsapp-local-storage'"),
    ("test", "another-project", "stack 'test' of project 'another-project'"),
])
def test_a_state_file_of_another_stack_or_project_is_refused_naming_both(project, emulator, tmp_path, stack,
                                                                          project_name, named):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({REGISTERED_BR: {}}, stack=stack, project=project_name)))
    for command in ("plan", "drift", "report"):
        code, out, err = run(command, "--stack", "test", "--state", str(state), project_dir=project(IN_SYNC))
        assert code == 2 and out == ""
        assert named in err and "not of stack 'test' of project 'whatsapp-local-storage'" in err
        assert "pulumi stack export --stack test" in err
    assert emulator.calls() == []  # refused before any read


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_graph_host_is_one_run_level_error_not_one_per_number(project):
    numbers = {str(106540352242000 + i): {"region": "BR", "pin": "123456"} for i in range(12)}
    directory = project(numbers, whatsapp__graphApiUrl=f"http://127.0.0.1:{_closed_port()}")
    code, out, err = run("drift", "--stack", "test", project_dir=directory)
    assert code == 1 and out == ""
    assert err.count("cannot reach the Graph API at http://127.0.0.1:") == 1
    assert "no read got an answer" in err and "nothing was compared" in err
    assert "106540352242000" not in err  # no per-number error
    # a loopback address is never reached through a proxy: the fix names the emulator (issue 31, item 4)
    assert "PROXY" not in err.upper() and "python -m emulator --state .pulumi-local/emulator.json" in err
    code, out, _ = run("plan", "--stack", "test", "--format", "json", project_dir=directory)
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and data["error"].startswith("cannot reach the Graph API")


def test_one_unreachable_number_among_answered_ones_stays_a_per_number_error(project, emulator):
    emulator.fault("GET", f"/{REGISTERED_BR}", drop=True, count=None)
    code, out, err = run("drift", "--stack", "test", "--format", "json", project_dir=project(IN_SYNC))
    data = json.loads(out)
    by_id = {n["phone_number_id"]: n for n in data["numbers"]}
    assert code == 1 and by_id[REGISTERED_DEFAULT]["status"] == "in_sync"
    assert by_id[REGISTERED_BR]["status"] == "error" and "cannot reach" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _six_numbers() -> dict:
    return {**LOCAL_NUMBERS, NOT_VERIFIED: {"region": "DEFAULT"}, COEXISTENCE: {"region": "DEFAULT"},
            NO_STORAGE: {"region": "SG"}}


def test_progress_on_a_terminal_is_a_live_counter_on_stderr(project):
    out, err = io.StringIO(), _Terminal()
    code = cli.main(["plan", "--stack", "test", "--format", "json", "--project-dir", str(project(_six_numbers()))],
                    out=out, err=err)
    assert code == 1 and json.loads(out.getvalue())["summary"]["numbers"] == 6  # stdout: the report only
    shown = err.getvalue()
    assert shown.startswith("\rreading numbers: 0/6")
    for done in range(1, 7):
        assert f"\rreading numbers: {done}/6" in shown
    assert shown.endswith("\n") and shown.count("\n") == 1 and "6 of 6 read in" in shown


def test_progress_in_a_log_is_a_line_every_few_seconds_and_absent_for_a_handful(project, monkeypatch):
    directory = project(_six_numbers())
    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 3600.0)  # however slow this machine is today
    code, out, err = run("drift", "--stack", "test", project_dir=directory)
    assert "\r" not in err
    assert err.splitlines()[0] == "reading numbers: 6 numbers from the Graph API"
    assert err.splitlines()[-1].startswith("reading numbers: 6 of 6 read in")
    assert len(err.splitlines()) == 2  # within the interval: no line between
    assert "reading numbers" not in out
    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.0)
    err_lines = run("drift", "--stack", "test", project_dir=directory)[2].splitlines()
    assert [line for line in err_lines if " of 6 read" in line and "in " not in line.split("read")[-1]] == [
        f"reading numbers: {done} of 6 read" for done in range(1, 6)]
    assert run("drift", "--stack", "test", project_dir=project(IN_SYNC))[2] == ""  # 2 numbers: silent


def test_version_prints_the_project_version_and_the_pinned_time_zone_database():
    code, out, _ = run("--version")
    assert code == 0 and out == f"python -m provider {__version__}, time zones tzdata {tzdata.__version__} " \
                                f"(IANA {tzdata.IANA_VERSION})\n"


@pytest.mark.parametrize("command", [c.name for c in cli.COMMANDS])
def test_every_command_help_lists_its_exit_codes(command):
    code, out, _ = run(command, "--help")
    assert code == 0
    codes = out.split("exit codes:\n", 1)[1]
    assert "  0  " in codes and ("  2  " in codes or command == "regions")
    if command in ("drift", "report"):
        assert "  7  " in codes


def test_verify_on_a_verified_number_says_so_and_sends_nothing(project, emulator, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda _prompt: pytest.fail("must not prompt"))
    code, out, _ = run("verify", "--phone-number-id", REGISTERED_BR, "--stack", "test", project_dir=project({}))
    assert code == 0
    assert f"{REGISTERED_BR} is already verified" in out
    assert mutating_calls(emulator) == []
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [("GET", f"/{REGISTERED_BR}")]  # the node


def test_verify_without_a_stack_or_token_suggests_the_stack_option(project):
    code, _, err = run("verify", "--phone-number-id", NOT_VERIFIED, project_dir=project({}, stack="local"))
    assert code == 1
    assert "no --stack was given" in err and "--stack local" in err and "stacks with a file: local" in err


def test_the_create_cutover_refusal_names_allow_cutover_on_create_as_the_stack_file_spells_it(project, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({})))
    directory = project({REGISTERED_DEFAULT: {"region": "IN", "pin": "123456"}})
    for extra in (["--state", str(state)], []):  # a refusal with --state, a warning without it
        for fmt in ("text", "markdown", "json"):
            out = run("plan", "--stack", "test", "--format", fmt, *extra, project_dir=directory)[1]
            if fmt == "json":  # the data keys are the inputs' names; the sentences use the stack file's
                number = json.loads(out)["numbers"][0]
                out = " ".join(number["preflight"]["problems"] + number["warnings"])
            assert "set allowCutoverOnCreate to true" in out, (extra, fmt)
            assert "allow_cutover_on_create" not in out and "{" + "allow" not in out


def test_with_an_invalid_entry_the_summary_says_nothing_would_change(project):
    numbers = {UNREGISTERED: {"region": "IN", "pin": "123456"}, NOT_VERIFIED: {"region": "UK"}}
    code, out, _ = run("plan", "--stack", "test", project_dir=project(numbers))
    assert code == 1
    summary = next(line for line in out.splitlines() if line.startswith("Summary:"))
    assert summary == ("Summary: 2 numbers: nothing would change (the stack file has 1 invalid entry, and "
                       "`pulumi up` would stop before declaring any resource), 1 blocked, 1 error.")
    assert "to change" not in out
    assert f"{UNREGISTERED}  blocked" in out  # its plan is still shown, as what follows the fix
    data = json.loads(run("plan", "--stack", "test", "--format", "json", project_dir=project(numbers))[1])
    assert data["summary"]["change"] == 0 and data["summary"]["blocked_changes"] == 1
    assert data["summary"]["invalid"] == 1 and "pulumi up` would stop" in data["error"]


def test_plan_fails_when_pulumi_up_would_refuse_to_delete_a_removed_number(project, tmp_path):
    """A removed number with on_delete=disable is deleted by `pulumi up` through the provider's
    preflight; when that refuses (here: its register budget is spent), `pulumi up` fails, so the
    plan must not exit 0 ("every number can converge") and let a pipeline go ahead."""
    now = datetime.now(timezone.utc)
    spent = [iso(now - timedelta(hours=1, minutes=i)) for i in range(10)]
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({
        REGISTERED_DEFAULT: {"on_delete": "retain", "region": "DEFAULT"},
        REGISTERED_BR: {"on_delete": "disable", "pin": "123456", "registration_calls": spent},
    })))
    numbers = {REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456"}}
    code, out, _ = run("plan", "--stack", "test", "--format", "json", "--state", str(state),
                       project_dir=project(numbers))
    data = json.loads(out)
    removed = {n["phone_number_id"]: n for n in data["numbers"]}[REGISTERED_BR]
    assert removed["status"] == "removed" and removed["preflight"]["problems"], removed
    assert code == 1 and data["exit_code"] == 1
    assert "refused by preflight" in data["error"]


HIDE = "<!-- everything below is hidden from the reviewer"


def test_the_pull_requests_stack_file_cannot_hide_part_of_the_markdown_plan(project):
    """The plan is posted on the pull request for reviewers; the pull request writes the names and
    Pulumi.yaml's stackConfigDir. Raw HTML from them (an unclosed comment, </details>) would hide the
    rows that follow, e.g. a cutover that takes a number offline."""
    directory = project({REGISTERED_DEFAULT: {"region": "DEFAULT", "pin": "123456", "name": HIDE},
                         REGISTERED_BR: {"region": "IN", "pin": "123456", "name": "</details></table>"}})
    sneaky = "st`" + HIDE
    (directory / "stacks").rename(directory / sneaky)
    (directory / "Pulumi.yaml").write_text(f"name: whatsapp-local-storage\nruntime: python\n"
                                           f"stackConfigDir: '{sneaky}'\n")
    for command in ("plan", "drift"):
        code, out, _ = run(command, "--stack", "test", "--format", "markdown", project_dir=directory)
        assert code in (0, 7), out
        assert "<!--" not in out and "</details>" not in out and "</table>" not in out, out
        assert "&lt;!-- everything below" in out and "&lt;/details&gt;" in out
        assert "| `106540352242923` |" in out and "deregister" in out  # the cutover row is there
    report = run("report", "--stack", "test", project_dir=directory)[1]
    assert "<!--" not in report and "</details>" not in report


def test_a_usage_errors_json_names_the_command_that_was_run_not_a_value_that_spells_another(project):
    code, out, _ = run("drift", "--stack", "plan", "--format", "json", "--bogus", project_dir=project(IN_SYNC))
    assert code == 2 and json.loads(out)["command"] == "drift"
