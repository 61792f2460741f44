"""Issue 20, items 7, 8 and 10 at the command line: ASCII digits in flags, YAML aliases refused in
stack and project files, state files that are not exports, and every value printed to a
terminal, a CI log or Markdown escaped.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from emulator.seed import REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider import cli, escape
from provider.stackfile import StackFileError, load_stack, load_state

NON_ASCII_PINS = ["１２３４５６", "١٢٣٤٥٦"]


def engine_config(emu):
    return {"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url, "whatsapp:apiVersion": "v25.0"}


# -- the command line -----------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [
    ["import", "--stack", "dev", "--waba-id", "²"],
    ["import", "--stack", "dev", "--waba-id", "１２３"],
    ["import", "--stack", "dev", "--waba-id", "123\n"],
    ["verify", "--phone-number-id", "١٢٣"],
    ["verify", "--phone-number-id", "123\n"],
    ["verify", "--phone-number-id", "123", "--code", "１２３４５６"],
])
def test_flags_take_ascii_digits_only(argv):
    code, _, err = run(*argv)
    assert code == 2 and "error:" in err and "Traceback" not in err


def write_project(tmp_path: Path, config: dict, *, raw: str | None = None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir(exist_ok=True)
    text = raw if raw is not None else yaml.safe_dump({"config": config})
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(text)
    return tmp_path


def numbers_config(emu, numbers: dict) -> dict:
    return {**engine_config(emu), "whatsapp-local-storage:phoneNumbers": numbers}


@pytest.mark.parametrize("pin", NON_ASCII_PINS)
def test_plan_shows_a_non_ascii_pin_as_invalid_without_a_call(tmp_path, emulator, pin):
    path = write_project(tmp_path, numbers_config(emulator, {REGISTERED_DEFAULT: {"region": "BR", "pin": pin}}))
    code, out, _ = run("plan", "--stack", "test", "--project-dir", str(path), "--format", "json")
    number = json.loads(out)["numbers"][0]
    assert code == 1 and number["invalid"] and "pin" in number["error"]
    assert [c for c in emulator.calls() if c["method"] == "POST"] == []


# -- YAML aliases ---------------------------------------------------------------------------------


def laughs(depth: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, depth + 1)]
    return "config:\n" + "\n".join("  " + line for line in lines) + "\n"


def test_yaml_aliases_are_refused_in_a_stack_file(tmp_path):
    with pytest.raises(StackFileError, match="aliases"):
        load_stack("test", write_project(tmp_path, {}, raw="config:\n  a: &x BR\n  whatsapp:apiVersion: *x\n"))


def test_a_billion_laughs_stack_file_is_refused_before_it_expands(tmp_path):
    path = write_project(tmp_path, {}, raw=laughs(9))  # 9**10 nodes if expanded
    with pytest.raises(StackFileError) as caught:
        load_stack("test", path)
    assert "Pulumi.test.yaml" in str(caught.value) and "aliases" in str(caught.value)


def test_yaml_aliases_are_refused_in_the_project_file_and_through_the_cli(tmp_path):
    path = write_project(tmp_path, {"whatsapp:apiVersion": "v25.0"})
    (path / "Pulumi.yaml").write_text("name: &n whatsapp-local-storage\nruntime: *n\nstackConfigDir: stacks\n")
    code, _, err = run("plan", "--stack", "test", "--project-dir", str(path))
    assert code == 2 and "aliases" in err and "Pulumi.yaml" in err


def test_a_merge_key_is_an_alias_too(tmp_path):
    raw = "config:\n  base: &b {region: BR}\n  whatsapp-local-storage:phoneNumbers:\n    '1': {<<: *b}\n"
    with pytest.raises(StackFileError, match="aliases"):
        load_stack("test", write_project(tmp_path, {}, raw=raw))


def test_an_anchor_without_an_alias_is_still_fine(tmp_path):
    raw = "config:\n  whatsapp:apiVersion: &v v25.0\n"
    assert load_stack("test", write_project(tmp_path, {}, raw=raw)).config["whatsapp:apiVersion"] == "v25.0"


@pytest.mark.parametrize("text", ["[" * 100000, '{"deployment": ' * 50000, '{"deployment": []}',
                                  '{"deployment": {"resources": [{"type": "pulumi-python:dynamic/whatsapp:'
                                  'PhoneNumberStorage", "outputs": [1]}]}}', "\xff\xfe"],
                         ids=["deep-list", "deep-map", "deployment-list", "outputs-list", "not-utf8"])
def test_a_state_file_that_is_not_an_export_is_a_clean_error(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    with pytest.raises(StackFileError):
        load_state(path)


def test_a_deeply_nested_stack_file_is_a_clean_error_read_no_further_than_the_limit(tmp_path, monkeypatch):
    """PyYAML's scanner slows down quadratically with flow nesting (100000 `[` took minutes): the
    read stops at the depth limit, counted here in parser events rather than in seconds."""
    read = []
    real_parse = yaml.parse

    def counting_parse(*args, **kwargs):
        for event in real_parse(*args, **kwargs):
            read.append(event)
            yield event

    monkeypatch.setattr(yaml, "parse", counting_parse)
    with pytest.raises(StackFileError, match="nested deeper than"):
        load_stack("test", write_project(tmp_path, {}, raw="config:\n  x: " + "[" * 3000))
    assert len(read) < 100


# -- escaping -------------------------------------------------------------------------------------

HOSTILE = "x\x1b[31mred\x1b[0m\n::add-mask::abc\r::error::forged\u202e<!-- | `y` [l](http://e.example)</details>"


def hostile_project(tmp_path, emulator) -> Path:
    numbers = {REGISTERED_BR: {"region": "BR", "name": HOSTILE}, "::error::bad-id\n<!--": {"region": "BR"},
               f"{UNREGISTERED}\u001b[2J": {"region": "BR"}}
    return write_project(tmp_path, numbers_config(emulator, numbers))


def lines_are_safe(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    for line in text.splitlines():
        stripped = line.lstrip()
        assert not stripped.startswith("::") and not stripped.startswith("##["), line


@pytest.mark.parametrize("command, fmt", [("plan", "text"), ("drift", "text"), ("plan", "markdown"),
                                          ("drift", "markdown"), ("report", "markdown"), ("report", "csv"),
                                          ("plan", "json"), ("report", "json")])
def test_names_and_invalid_ids_are_escaped_in_every_format(tmp_path, emulator, command, fmt):
    path = hostile_project(tmp_path, emulator)
    every = ["--show-sames"] if command in ("plan", "drift") else []  # the in-sync numbers' names too
    code, out, err = run(command, "--stack", "test", "--project-dir", str(path), "--format", fmt, *every)
    assert code in (1, 7), err
    lines_are_safe(out)
    lines_are_safe(err)
    if fmt == "markdown":
        ours = re.sub(r"<details><summary>[^<>]*</summary>|</details>", "", out)  # the renderer's own folds
        assert "<!--" not in out and "<" not in ours.replace("&lt;", "")
        assert not re.search(r"(?<!\\)\]\(", out), "no link from a name: its brackets are escaped"
        for row in (line for line in out.splitlines() if line.startswith("| ") and "---" not in line):
            header = out.splitlines()[[i for i, line in enumerate(out.splitlines()) if line.startswith("| ")][0]]
            assert row.replace("\\|", "").count("|") == header.count("|"), row
    if fmt == "json":
        assert any(n["name"] == HOSTILE for n in json.loads(out)["numbers"]), "JSON keeps the value, escaped by JSON"
    if fmt == "text":
        assert escape.text(HOSTILE) in out, "the name stays on its line, its line break shown as \\n"


def test_a_hostile_stack_name_in_an_error_is_escaped(tmp_path):
    code, _, err = run("plan", "--stack", "x\x1b[2J\n::add-mask::y", "--project-dir", str(write_project(tmp_path, {})))
    assert code == 2
    lines_are_safe(err)


def test_a_hostile_path_in_an_error_is_escaped_by_the_output_stream(tmp_path):
    """An error message with raw text (a path): escaped where the message names it, line break included."""
    code, _, err = run("plan", "--stack", "test", "--project-dir", str(tmp_path / "a\x1b[2J\n::add-mask::y"))
    assert code == 2 and "a\\x1b[2J\\n::add-mask::y" in err
    lines_are_safe(err)


def test_escape_functions():
    assert escape.text("a\nb\x1b") == "a\\nb\\x1b"
    assert escape.text("::error::x") == "\\::error::x"
    assert escape.log("ok\n  ::warning::x\n##[group]y\n") == "ok\n  \\::warning::x\n##\\u005bgroup]y\n"
    assert escape.markdown("<!-- a|b [c](d) & *e*") == "&lt;!-- a\\|b \\[c\\](d) &amp; \\*e\\*"
    assert escape.code("123") == "`123`" and escape.code("1`2") == "1`2"


def test_log_stream_neutralises_a_command_split_across_writes():
    target = io.StringIO()
    stream = escape.LogStream(target)
    for piece in ["ok\n", ":", ":error::x\n", "  #", "#[group]\n", "a::b\n", "\x1b[2J", "\r::warning::y"]:
        stream.write(piece)
    stream.flush()
    assert target.getvalue() == "ok\n\\::error::x\n  ##\\u005bgroup]\na::b\n\\x1b[2J\r\\::warning::y"


def test_a_carriage_return_in_an_error_is_escaped_not_sent_to_the_terminal(tmp_path):
    """A bare \\r would let the rest of the line overprint the error on a terminal."""
    code, _, err = run("plan", "--stack", "test", "--project-dir", str(tmp_path / "x\rALL GOOD"))
    assert code == 2 and "\r" not in err and "x\\rALL GOOD" in err


def test_markdown_keeps_mentions_and_issue_references_plain_text():
    out = escape.markdown("@octocat #12 ~~y~~")
    assert "@octocat" not in out and "#12" not in out and "~~" not in out
    assert out == "@&#8203;octocat #&#8203;12 \\~\\~y\\~\\~"
    assert escape.code("IN_COUNTRY_STORAGE_ENABLED") == "`IN_COUNTRY_STORAGE_ENABLED`"


def test_an_abbreviated_format_flag_is_a_usage_error_not_a_silent_json():
    code, out, err = run("plan", "--form", "json", "--stack", "test")
    assert code == 2 and "--form" in err
