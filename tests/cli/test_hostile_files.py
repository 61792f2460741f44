"""Issue 29, items 4, 5, 7 and 9: the files the command line reads, from a pull request or an operator.

A stack file that is a link to a file that is not YAML (``~/.aws/credentials`` on a self-hosted
runner) printed about 30 characters of it; a stack file importing ESC environments was planned
as if the import did not exist; a state file with ``"registration_calls": 5`` was a traceback;
stack files had no size limit.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.harness import Emulator
from emulator.seed import DEMO_PIN, DEMO_WABA_ID, REGISTERED_BR
from provider import cli, files
from tests.cli.support import state_export

CREDENTIALS = "[default]\naws_access_key_id = AKIAEXAMPLESECRET42\naws_secret_access_key = wJalrEXAMPLEKEY/K7MDENG\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def project(root: Path, emulator: Emulator, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
    (root / "stacks").mkdir(exist_ok=True)
    config = {"whatsapp:accessToken": emulator.token, "whatsapp:graphApiUrl": emulator.url,
              "whatsapp:apiVersion": "v25.0",
              "whatsapp-local-storage:phoneNumbers": {REGISTERED_BR: {"region": "BR", "pin": DEMO_PIN}}}
    (root / "stacks" / "Pulumi.test.yaml").write_text(yaml.safe_dump({"config": config}) + extra)
    return root


def plan(path: Path, *more: str) -> tuple[int, str, str]:
    return run("plan", "--stack", "test", "--project-dir", str(path), *more)


# -- item 4: links, files outside the project, what a parse error shows ----------------------------


def test_a_stack_file_that_is_a_link_to_a_secret_file_is_refused_unread(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path / "repo", emulator)
    secret = tmp_path / "credentials"
    secret.write_text(CREDENTIALS)
    stack_file = path / "stacks" / "Pulumi.test.yaml"
    stack_file.unlink()
    stack_file.symlink_to(secret)
    code, out, err = plan(path, "--format", "json")
    assert code == 2 and "is a symbolic link, which is not followed" in err
    assert "AKIA" not in out + err and "default" not in out + err and "aws" not in out + err


def test_a_link_to_a_file_inside_the_project_is_refused_too(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator)
    (path / "stacks" / "Pulumi.other.yaml").symlink_to(path / "stacks" / "Pulumi.test.yaml")
    code, _, err = run("plan", "--stack", "other", "--project-dir", str(path))
    assert code == 2 and "is a symbolic link, which is not followed" in err


def test_a_project_file_that_is_a_link_is_refused(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path / "repo", emulator)
    real = tmp_path / "Pulumi-real.yaml"
    (path / "Pulumi.yaml").rename(real)
    (path / "Pulumi.yaml").symlink_to(real)
    code, _, err = plan(path)
    assert code == 2 and "symbolic link" in err


def test_a_stack_config_dir_outside_the_project_is_refused(tmp_path: Path, emulator: Emulator) -> None:
    project(tmp_path / "elsewhere", emulator)
    path = tmp_path / "repo"
    path.mkdir()
    (path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: ../elsewhere/stacks\n")
    code, _, err = plan(path)
    assert code == 2 and "outside the project directory" in err


def test_a_stack_directory_linked_outside_the_project_is_refused(tmp_path: Path, emulator: Emulator) -> None:
    outside = project(tmp_path / "elsewhere", emulator)
    path = tmp_path / "repo"
    path.mkdir()
    (path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
    (path / "stacks").symlink_to(outside / "stacks")
    code, _, err = plan(path)
    assert code == 2 and "outside the project directory" in err


def test_a_stack_file_that_is_not_yaml_gets_line_and_column_and_none_of_its_content(
        tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator)
    (path / "stacks" / "Pulumi.test.yaml").write_text("config:\n  token: abc\n" + CREDENTIALS)
    code, out, err = plan(path, "--format", "json")
    assert code == 2
    message = json.loads(out)["error"]
    assert "is not valid YAML at line 4, column 1" in message, message
    assert "AKIA" not in out + err and "aws" not in out + err and "default" not in out + err


def test_an_undefined_alias_is_named_without_its_name(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator)
    (path / "stacks" / "Pulumi.test.yaml").write_text("config:\n  whatsapp:apiVersion: *SuperSecretAnchor\n")
    code, _, err = plan(path)
    assert code == 2 and "line 2, column 24" in err and "SuperSecretAnchor" not in err


@pytest.mark.parametrize("text, where", [("config:\n  whatsapp:apiVersion: !<tag:AKIASECRETTAG> 1\n", "line 2, column 24"),
                                         ("config:\n  x: !AKIA!SECRET v\n", "line 2, column 6"),
                                         ('config:\n  x: "AKIA\\qSECRET"\n', "line 2, column 12")],
                         ids=["tag", "tag handle", "escape"])
def test_what_pyyaml_quotes_from_the_file_is_left_out(tmp_path: Path, emulator: Emulator, text: str,
                                                      where: str) -> None:
    path = project(tmp_path, emulator)
    (path / "stacks" / "Pulumi.test.yaml").write_text(text)
    code, _, err = plan(path)
    assert code == 2 and where in err and "AKIA" not in err and "SECRET" not in err, err


def test_a_state_file_may_be_anywhere_but_not_a_link(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path / "repo", emulator)
    elsewhere = tmp_path / "runner-temp" / "state.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps(state_export({REGISTERED_BR: {"region": "BR"}})))
    code, _, err = plan(path, "--state", str(elsewhere))
    assert code == 0, err
    link = tmp_path / "state-link.json"
    link.symlink_to(elsewhere)
    code, _, err = plan(path, "--state", str(link))
    assert code == 2 and "is a symbolic link, which is not followed" in err


def test_a_state_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path / "repo", emulator)
    fifo = tmp_path / "state.fifo"
    os.mkfifo(fifo)
    code, _, err = plan(path, "--state", str(fifo))
    assert code == 2 and "not a regular file" in err


# -- item 9: size caps, before parsing ----------------------------------------------------------------


def test_a_stack_file_over_8_mib_is_refused_before_parsing(tmp_path: Path, emulator: Emulator,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(tmp_path, emulator, extra="#" * (8 * 1024 * 1024))
    parsed: list[int] = []
    real_parse = yaml.parse

    def parse(text: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(text))
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(yaml, "parse", parse)
    code, _, err = plan(path)
    assert code == 2 and "over the 8 MiB limit" in err
    assert max(parsed) < 1000, "only Pulumi.yaml was parsed"


def test_a_state_file_over_64_mib_is_refused_before_parsing(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path / "repo", emulator)
    big = tmp_path / "state.json"
    with big.open("wb") as handle:  # sparse: no 64 MiB written
        handle.truncate(files.STATE_FILE_LIMIT + 1)
    code, _, err = plan(path, "--state", str(big))
    assert code == 2 and "over the 64 MiB limit" in err


# -- item 5: ESC environments --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "drift", "report", "import"])
@pytest.mark.parametrize("fmt", ["default", "json"])
def test_a_stack_file_importing_esc_environments_is_refused_naming_them(
        tmp_path: Path, emulator: Emulator, command: str, fmt: str) -> None:
    path = project(tmp_path, emulator, extra="environment:\n  - myorg/whatsapp-overrides\n  - myorg/shared\n")
    argv = [command, "--stack", "test", "--project-dir", str(path)]
    argv += ["--waba-id", DEMO_WABA_ID] if command == "import" else []
    argv += ["--format", "json"] if fmt == "json" else []
    code, out, err = run(*argv)
    assert code == 1, err
    text = json.loads(out)["error"] if fmt == "json" else err
    assert "myorg/whatsapp-overrides, myorg/shared" in text and "cannot see what they set" in text
    assert "Policy:" not in out, "nothing was planned without them"
    assert not emulator.calls(), "refused before any call"


def test_an_empty_environment_list_is_no_import(tmp_path: Path, emulator: Emulator) -> None:
    path = project(tmp_path, emulator, extra="environment: []\n")
    assert plan(path)[0] == 0


# -- item 7: a malformed state file ------------------------------------------------------------------


@pytest.mark.parametrize("value", [5, True, "1e400", {"a": 1}, [1]], ids=["int", "true", "1e400", "map", "list-of-int"])
@pytest.mark.parametrize("command, fmt", [("plan", "text"), ("drift", "markdown"), ("report", "csv"),
                                          ("plan", "json"), ("report", "json")])
def test_a_malformed_state_file_is_a_clean_error_naming_resource_and_field(
        tmp_path: Path, emulator: Emulator, value: object, command: str, fmt: str) -> None:
    path = project(tmp_path / "repo", emulator)
    text = json.dumps(state_export({REGISTERED_BR: {"region": "BR", "registration_calls": "PLACEHOLDER"}}))
    text = text.replace('"PLACEHOLDER"', "1e400" if value == "1e400" else json.dumps(value))
    state = tmp_path / "state.json"
    state.write_text(text)
    code, out, err = run(command, "--stack", "test", "--project-dir", str(path), "--state", str(state),
                         "--format", fmt)
    assert code == 1, err
    assert "Traceback" not in out + err and "internal error" not in out + err
    message = json.loads(out)["error"] if fmt == "json" else err
    assert f"::{REGISTERED_BR}" in message and "outputs.registration_calls" in message, message
    if fmt == "json":
        assert json.loads(out)["exit_code"] == 1


@pytest.mark.parametrize("field, value", [("applied_steps", 3), ("on_delete", ["disable"]), ("enforce_pin", "yes"),
                                          ("cutover_windows", "Sun 03:00-05:00 UTC"), ("schema_version", 2.5)])
def test_a_wrong_type_in_any_field_read_from_state_is_named(tmp_path: Path, emulator: Emulator, field: str,
                                                            value: object) -> None:
    path = project(tmp_path / "repo", emulator)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({REGISTERED_BR: {"region": "BR", field: value}})))
    code, _, err = plan(path, "--state", str(state))
    assert code == 1 and f"outputs.{field}" in err, err
