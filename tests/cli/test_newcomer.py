"""The newcomer's small things (issue 31, item 4) and the options spelled as ``pulumi`` spells them
(item 3): ``-s``/``--stack``, ``-C``/``--cwd``, ``--project-dir`` kept as an alias."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import requests

from emulator.harness import Emulator
from emulator.seed import COEXISTENCE, DEMO_WABA_ID, NOT_VERIFIED, REGISTERED_DEFAULT
from provider import cli, transport
from provider.errors import ConnectError
from provider.regions import REGIONS, InvalidRegion, normalize_region
from provider.wording import counted
from tests.cli.support import IN_SYNC, run


@pytest.mark.parametrize("spelling", [["-s", "test", "-C"], ["--stack", "test", "--cwd"],
                                      ["--stack=test", "--project-dir"]])
def test_plan_takes_the_stack_and_project_directory_as_pulumi_spells_them_and_the_old_alias(
        project: Callable[..., Path], spelling: list[str]) -> None:
    directory = project(IN_SYNC)
    code, out, err = run("plan", *spelling, str(directory))
    assert code == 0, err
    assert "plan for stack test (stacks/Pulumi.test.yaml)" in out


def test_cwd_below_the_project_finds_the_project_above_it_as_pulumi_does(project: Callable[..., Path]) -> None:
    below = project(IN_SYNC) / "stacks"
    code, out, err = run("drift", "-s", "test", "-C", str(below))
    assert code == 0, err
    assert "stack test" in out


def test_a_directory_with_no_project_names_the_option_to_use(tmp_path: Path) -> None:
    code, _, err = run("plan", "-s", "local", "-C", str(tmp_path))
    assert code == 2  # a usage error
    assert "or pass -C DIR (--cwd)" in err


# -- "did you mean" for near misses of region codes -----------------------------------------------

@pytest.mark.parametrize(("written", "meant"), [
    ("Brazil", "BR"), ("brazil", "BR"), ("Brasil", "BR"), ("BRA", "BR"), ("india", "IN"), ("Indai", "IN"),
    ("Germany", "DE"), ("DEU", "DE"), ("United Kingdom", "GB"), ("Untied Kingdom", "GB"), ("south korea", "KR"),
    ("UAE", "AE"), ("Swizerland", "CH"), ("Canda", "CA"),
])
def test_a_country_name_or_alpha3_code_is_refused_with_the_code_it_most_likely_means(written: str, meant: str) -> None:
    with pytest.raises(InvalidRegion) as refused:
        normalize_region(written)
    assert f"did you mean {meant} ({REGIONS[meant]})?" in str(refused.value)
    assert "DEFAULT" in str(refused.value)


@pytest.mark.parametrize("written", ["BE", "XX", "France", "Frnace", "Q"])
def test_a_miss_with_no_likely_region_gets_the_list_and_no_guess(written: str) -> None:
    with pytest.raises(InvalidRegion) as refused:
        normalize_region(written)
    assert "did you mean" not in str(refused.value) and "use one of IN, SG" in str(refused.value)


@pytest.mark.parametrize("written", ["USA", "united states"])
def test_the_united_states_however_written_is_pointed_at_default(written: str) -> None:
    with pytest.raises(InvalidRegion, match="declare DEFAULT"):
        normalize_region(written)


def test_plan_of_a_stack_entry_declaring_brazil_by_name_says_did_you_mean_br(project: Callable[..., Path]) -> None:
    directory = project({"106540352242922": {"region": "Brazil", "pin": "123456"}})
    code, out, _ = run("plan", "-s", "test", "-C", str(directory))
    assert code == 1
    assert "did you mean BR (Brazil)?" in out


# -- counts: one number, one error, one colon -----------------------------------------------------

def test_plan_of_one_invalid_entry_counts_one_number_and_one_error_with_one_colon(
        project: Callable[..., Path]) -> None:
    directory = project({"106540352242922": {"region": "Brazil", "pin": "123456"}})
    _, out, _ = run("plan", "-s", "test", "-C", str(directory))
    summary = next(line for line in out.splitlines() if line.startswith("Summary:"))
    assert summary == ("Summary: 1 number: nothing would change (the stack file has 1 invalid entry, and "
                       "`pulumi up` would stop before declaring any resource), 1 error.")


def test_drift_and_report_of_one_number_in_sync_say_one_number(project: Callable[..., Path]) -> None:
    directory = project({"106540352242922": {"region": "DEFAULT", "pin": "123456"}})
    code, out, err = run("drift", "-s", "test", "-C", str(directory))
    assert code == 0, err
    assert "\nSummary: 1 number: 1 in sync.\n" in out
    code, out, err = run("report", "-s", "test", "-C", str(directory))
    assert code == 0, err
    assert "- Result: 1 of 1 number complies" in out


@pytest.mark.parametrize(("count", "text"), [(0, "0 errors"), (1, "1 error"), (2, "2 errors")])
def test_every_count_the_cli_prints_agrees_with_its_noun(count: int, text: str) -> None:
    assert counted(count, "error") == text
    assert counted(count, "invalid entry", "invalid entries").endswith("entry" if count == 1 else "entries")


# -- verify: help for every flag, a next step for a refused code ---------------------------------

def test_verify_help_has_text_for_every_flag() -> None:
    parser = cli.build_parser()
    verify = next(action for action in parser._subparsers._group_actions[0].choices.items()  # type: ignore[union-attr]
                  if action[0] == "verify")[1]
    undocumented = [action.option_strings for action in verify._actions if not action.help]
    assert undocumented == []


@pytest.fixture
def graph_env(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Emulator:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", emulator.token)
    monkeypatch.setenv("WHATSAPP_GRAPH_API_URL", emulator.url)
    return emulator


def test_verify_with_a_wrong_code_says_what_to_do_next_before_what_graph_said(graph_env: Emulator) -> None:
    emulator = graph_env
    requests.post(f"{emulator.url}/v25.0/{NOT_VERIFIED}/request_code", params={"code_method": "SMS", "language": "en_US"},
                  headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10).raise_for_status()
    code, _, err = run("verify", "--phone-number-id", NOT_VERIFIED, "--code", "000000")
    assert code == 1
    message = err.split("error: ", 1)[1]
    assert message.startswith(f"Meta did not accept the code for {NOT_VERIFIED}")
    assert f"run `python -m provider verify --phone-number-id {NOT_VERIFIED}` without --code to request" in message
    assert "Graph said: The verification code does not match" in message and "fbtrace_id" in message


def test_verify_prompted_code_refused_says_to_check_the_digits_or_request_a_new_one(
        graph_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda _prompt: "000000")
    code, out, err = run("verify", "--phone-number-id", NOT_VERIFIED)
    assert code == 1 and "Requested a verification code" in out
    assert "check the digits of the message that just arrived and run again with --code CODE" in err


# -- import: no PIN asked for a number that can never be cut over ---------------------------------

def test_import_asks_no_pin_for_a_coexistence_number_declared_or_proposed(emulator: Emulator, project_dir: Path) -> None:
    stack = project_dir / "stacks" / "Pulumi.prod.yaml"
    stack.write_text(f"config:\n  whatsapp:graphApiUrl: {emulator.url}\n  whatsapp:accessToken: {emulator.token}\n"
                     f"  whatsapp-local-storage:phoneNumbers:\n    \"{COEXISTENCE}\":\n      region: DEFAULT\n")
    code, out, err = run("import", "-s", "prod", "-C", str(project_dir), "--waba-id", DEMO_WABA_ID)
    assert code == 0, err
    assert f"phoneNumbers[\"{REGISTERED_DEFAULT}\"].pin" in out  # may be cut over one day: asked
    assert f"phoneNumbers[\"{COEXISTENCE}\"].pin" not in out
    stack.write_text(f"config:\n  whatsapp:graphApiUrl: {emulator.url}\n  whatsapp:accessToken: {emulator.token}\n"
                     "  whatsapp-local-storage:phoneNumbers: {}\n")
    code, out, err = run("import", "-s", "prod", "-C", str(project_dir), "--waba-id", DEMO_WABA_ID)
    assert code == 0, err
    assert f"\"{COEXISTENCE}\":" in out and "so it needs no PIN" in out
    assert f"phoneNumbers[\"{COEXISTENCE}\"].pin" not in out


# -- an unreachable emulator: no proxy hint for a loopback address ---------------------------------

def test_a_refused_connection_to_loopback_names_the_emulator_and_to_a_remote_host_mentions_proxies() -> None:
    """The run-level form (every read refused) is in tests/cli/test_cli_safety.py's unreachable-host test."""
    error = transport.network_error(ConnectionRefusedError(111, "Connection refused"),
                                    target="https://graph.facebook.com/v25.0/1", method="GET", path="/1")
    assert isinstance(error, ConnectError) and "HTTPS_PROXY" in error.fix
    loopback = transport.network_error(ConnectionRefusedError(111, "Connection refused"),
                                       target="http://[::1]:8787/v25.0/1", method="GET", path="/1")
    assert "proxy" not in loopback.fix.lower() and "emulator" in loopback.fix
