"""README.md's commands, run as written, and the outputs its comments promise; its navigation.

Three parts of the README are executable: "Start here" (the newcomer's commands), "Your first
hour" (run, look, change a region, apply, check) and "The emulator" (Meta's guide against the
emulator, then drift). Their ```sh blocks are read from README.md itself, so a command edited
there is the command tested here. A comment line after a command states its output: JSON,
`exit N: ...`, or where to read a value; each is checked.

The first hour continues in the clone that "Start here" made, whose first command (up-local) is
the first hour's first command too: it runs once, and both check it. Its commands run in one bash
session, as a reader types them, so `&` and `kill %1` mean what they say.

The newcomer's `git clone <this repository>` clones this checkout; the clone borrows this
checkout's .venv (creating one would download every dependency again), and its up-local runs
without pulumi and offline (HTTPS through a closed port), as on a fresh machine without internet.
`./scripts/test` is not run from inside the suite it starts: .ci/run runs exactly that command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.matching import must_match

# pytest-xdist: keep these tests on one worker: the README's commands start the emulator on the fixed port 8787.
pytestmark = pytest.mark.xdist_group("port-8787")

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PORT = 8787


@dataclass
class Command:
    line: str
    comment: str = ""                              # the inline comment after `  # `
    notes: list[str] = field(default_factory=list)  # the comment lines that follow it

    @property
    def said(self) -> str:
        return " ".join([self.comment, *self.notes]).strip()


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def sh_blocks(text: str) -> list[list[Command]]:
    blocks = []
    for body in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        commands: list[Command] = []
        for line in body.replace("\\\n", "").splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                assert commands, f"a comment before any command: {line}"
                commands[-1].notes.append(stripped.lstrip("# ").strip())
                continue
            command, _, comment = line.partition("  # ")
            commands.append(Command(" ".join(command.split()), comment.strip()))
        blocks.append(commands)
    return blocks


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WHATSAPP_", "PULUMI_")) and k.lower() not in {
               "https_proxy", "http_proxy", "all_proxy", "no_proxy"}}
    env.update(extra)
    return env


def run(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(**env), capture_output=True, text=True,
                          timeout=240, check=False)


# -- "Start here" --------------------------------------------------------------------------------


def test_the_newcomer_commands_are_the_three_the_readme_promises():
    [start] = sh_blocks(section("Start here"))[:1]
    assert [c.line for c in start] == ["git clone <this repository> && cd whatsapp-local-storage",
                                       "./scripts/up-local", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\./scripts/test$", ci, re.M), ".ci/run must run exactly the README's test command"
    for script in ("up-local", "test"):
        assert os.access(ROOT / "scripts" / script, os.X_OK)


@dataclass
class Clone:
    """A fresh clone after "Start here"'s up-local ran in it, offline and without pulumi."""

    path: Path
    env: dict[str, str]            # what the newcomer's shell has: no pulumi, HTTPS through a closed port
    up_local: subprocess.CompletedProcess[str]
    port_free_after: bool


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Clone:
    if _port_busy(PORT):
        pytest.skip(f"port {PORT} is in use on this machine")
    if shutil.which("pulumi", path="/usr/bin:/bin"):
        pytest.skip("pulumi is installed in /usr/bin or /bin, so it cannot be kept off PATH")
    tmp_path = tmp_path_factory.mktemp("newcomer")
    clone, up_local = sh_blocks(section("Start here"))[0][:2]
    source = tmp_path / "src" / "whatsapp-local-storage"
    source.parent.mkdir()
    source.symlink_to(ROOT)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    script = "\n".join([
        clone.line.replace("<this repository>", str(source)),
        f"ln -s {ROOT / '.venv'} .venv",   # the one step added: reuse the dependencies already installed
        up_local.line,
    ])
    env = {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "HTTPS_PROXY": dead_proxy,
           "HOME": str(tmp_path / "home")}
    done = run(script, tmp_path, **env)
    return Clone(tmp_path / "whatsapp-local-storage", env, done, not _port_busy(PORT))


def test_a_fresh_clone_runs_the_main_job_up_to_the_plan_when_offline_without_pulumi(fresh_clone: Clone) -> None:
    done = fresh_clone.up_local
    assert done.returncode == 3, done.stdout + done.stderr
    assert re.search(r"^installing pulumi \S+ into .*/whatsapp-local-storage/\.pulumi-local/cli failed: "
                     r"cannot download Pulumi's installer: ", done.stderr, re.M), done.stderr
    assert "WhatsApp Local Storage plan for stack local" in done.stdout
    assert "calls:     settings(IN) -> register" in done.stdout
    assert fresh_clone.port_free_after


# -- "Your first hour" ---------------------------------------------------------------------------


def plan_numbers(output: str) -> dict[str, tuple[str, str]]:
    """Each number `plan`/`drift` lists: its status and the lines of its block."""
    blocks = re.split(r"^(?=\d{15}  )", output, flags=re.M)[1:]
    numbers = {}
    for block in blocks:
        head = must_match(re.match(r"(\d{15})  (.+?)  ", block), "a number's heading")
        numbers[head.group(1)] = (head.group(2), block.split("\n\nSummary:")[0])
    return numbers


def check_clause(clause: str, output: str) -> None:
    """One stated fact about `plan`/`drift`/`up-local` output; a clause no rule reads fails."""
    listed = plan_numbers(output)
    ids = re.findall(r"\d{15}", clause.split(":")[0])
    assert ids, f"the clause names no number: {clause}"
    if re.fullmatch(r"[\d, and]+ (?:drift|drifts)", clause):
        for number in ids:
            assert listed.get(number, ("",))[0] == "DRIFT", (clause, output)
    elif re.fullmatch(r"[\d, and]+ (?:is|are) in sync", clause):
        for number in ids:   # listed as in sync, or left out as nothing to say
            assert listed.get(number, ("in sync",))[0] == "in sync", (clause, output)
    elif cutover := re.fullmatch(r"(\d{15}) is a cutover: (.+?), offline (.+)", clause):
        status, block = listed[cutover.group(1)]
        assert status == "will change", (clause, output)
        assert f"calls:     {cutover.group(2)}\n" in block, (clause, block)
        assert f"offline:   yes: {cutover.group(3)}" in block, (clause, block)
    elif change := re.fullmatch(r"(\d{15}) will change: (.+)", clause):
        status, block = listed[change.group(1)]
        assert status == "will change", (clause, output)
        assert f"calls:     {change.group(2)}\n" in block, (clause, block)
    else:
        raise AssertionError(f"no rule checks this stated output: {clause}")


def check_said(said: str, done: tuple[int, str]) -> int:
    """Check one comment line's stated output against (exit code, stdout); the number of facts checked."""
    returncode, output = done
    if said.startswith("with the CLI: "):
        return 0                                   # after a real `pulumi up`: not here, without pulumi
    stated = must_match(re.fullmatch(r"(?:without the CLI: )?exit (\d+): (.+?)\.?", said),
                        f"a stated output `exit N: ...` in {said!r}")
    assert returncode == int(stated.group(1)), (said, output)
    clauses = stated.group(2).split("; ")
    for clause in clauses:
        check_clause(clause, output)
    return 1 + len(clauses)


def test_the_first_hour_runs_offline_as_written_and_prints_what_its_comments_say(fresh_clone: Clone) -> None:
    if shutil.which("perl", path="/usr/bin:/bin") is None or shutil.which("git", path="/usr/bin:/bin") is None:
        pytest.skip("the first hour edits the stack file with perl and restores it with git")
    commands = [c for block in sh_blocks(section("Your first hour")) for c in block]
    assert commands[0].line == "./scripts/up-local", "the first hour starts where Start here ended"
    out = fresh_clone.path.parent / "first-hour"
    out.mkdir()
    # One session, as typed: each command's stdout and exit code kept; a background command is waited
    # for until it printed (a reader sees it print before typing on); no background job outlives it.
    script = ["trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    for i, command in enumerate(commands[1:], 1):
        if command.line.endswith("&"):
            script += [f"{command.line[:-1]} >{out}/{i}.out 2>&1 &",
                       f"for _ in $(seq 200); do [ -s {out}/{i}.out ] && break; sleep 0.05; done"]
        else:
            script += [f"{{ {command.line}\n}} >{out}/{i}.out 2>{out}/{i}.err; echo $? >{out}/{i}.rc"]
    run("\n".join(script), fresh_clone.path, **fresh_clone.env)

    checked = 0
    up_local = fresh_clone.up_local
    for i, command in enumerate(commands):
        if i == 0:
            done, errors = (up_local.returncode, up_local.stdout), up_local.stderr
        elif command.line.endswith("&"):
            printed = (out / f"{i}.out").read_text()
            prints = must_match(re.fullmatch(r"prints: (.+)", command.comment), f"what `{command.line}` prints")
            assert printed.splitlines()[:1] == [prints.group(1)], printed
            checked += 1
            continue
        else:
            done, errors = (int((out / f"{i}.rc").read_text()), (out / f"{i}.out").read_text()), \
                (out / f"{i}.err").read_text()
        stated = list(command.notes)
        if re.match(r"(with|without) the CLI|exit ", command.comment):
            stated.insert(0, command.comment)
        if not stated:
            assert done[0] == 0, (command.line, done[1] + errors)
        for said in stated:
            checked += check_said(said, done)
    assert not _port_busy(PORT), "the first hour stops every emulator it starts"
    assert (fresh_clone.path / "stacks" / "Pulumi.local.yaml").read_text() == \
        (ROOT / "stacks" / "Pulumi.local.yaml").read_text(), "the first hour ends with the demo declaration back"
    assert checked == 21, f"every output the first hour states was checked ({checked} facts)"


# -- "The emulator" ------------------------------------------------------------------------------


@pytest.fixture
def walkthrough():
    """The emulator section's commands; its first command (the emulator) runs until the test ends."""
    if _port_busy(PORT):
        pytest.skip(f"port {PORT} is in use on this machine")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    commands = [c for block in sh_blocks(section("The emulator")) for c in block]
    start = commands[0]
    assert start.line == f".venv/bin/python -m emulator --seed demo --port {PORT}"
    emulator = subprocess.Popen(["bash", "-c", f"exec {start.line}"], cwd=ROOT, env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    assert emulator.stdout is not None  # piped
    try:
        assert "emulator listening on" in emulator.stdout.readline()
        yield commands[1:]
    finally:
        os.killpg(emulator.pid, signal.SIGTERM)
        emulator.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _port_busy(PORT) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_the_emulator_walkthrough_prints_what_the_readme_says(walkthrough):
    checked = 0
    for command in walkthrough:
        done = run(command.line, ROOT)
        said = command.said
        if said.startswith("{"):
            expected, _ = json.JSONDecoder().raw_decode(said)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == expected, command.line
            checked += 1
        where = re.search(r"the code is in GET (/\S+) \(\"(\w+)\"\)", said)
        if where:
            number = requests.get(f"http://127.0.0.1:{PORT}{where.group(1)}", timeout=10).json()
            assert re.fullmatch(r"\d{6}", str(number[where.group(2)])), number
            checked += 1
        if said.startswith("the number as it is now, as JSON"):
            number = json.loads(done.stdout)
            assert number["id"] in command.line and "storage_configuration" in number["settings"]
            checked += 1
        status = re.match(r"exit (\d+): (.+?) drift, (.+?) is in sync\.", said)
        if status:
            assert done.returncode == int(status.group(1)), done.stdout + done.stderr
            reported = dict(re.findall(r"^(\d{15})  (DRIFT|in sync)\b", done.stdout, re.M))
            drifted = set(re.findall(r"\d{15}", status.group(2)))
            in_sync = set(re.findall(r"\d{15}", status.group(3)))
            assert reported == {**{n: "DRIFT" for n in drifted}, **{n: "in sync" for n in in_sync}}, done.stdout
            for number, region in re.findall(r"(\d{15}) is now in ([A-Z]{2})", said):
                assert re.search(rf"^{number}  DRIFT.*\n  live:\s+{region} ", done.stdout, re.M), done.stdout
            checked += 1
    assert checked == 5, "every output the walkthrough states was checked"


def test_the_cli_release_the_readme_names_is_the_pinned_sdk():
    pinned = must_match(re.search(r"^pulumi==(\S+)", (ROOT / "requirements.txt").read_text(), re.M),
                        "the pulumi pin").group(1)
    assert set(re.findall(r"`pulumi==(\S+?)`", section("Start here"))) == {pinned}


def test_the_readme_names_every_command_of_the_cli():
    from provider.cli import COMMANDS

    listed = re.search(r"a command line, `python -m provider ([a-z |]+)`", README)
    assert listed, "the README's opening list names the commands as `python -m provider a | b | ...`"
    assert listed.group(1).split(" | ") == [c.name for c in COMMANDS]


# -- navigation: the table of contents, the glossary, the reference -----------------------------


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation (backticks included) dropped, each
    space a hyphen; so "drift: `python -m provider`" is "drift-python--m-provider"."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every Markdown heading outside code blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return [(len(hashes), title) for hashes, title in re.findall(r"^(#{1,6}) (.+)$", prose, re.M)]


def anchors(text: str) -> set[str]:
    """Every anchor GitHub gives the headings, a repeated one suffixed -1, -2, ... as GitHub does."""
    seen: dict[str, int] = {}
    result = set()
    for _, title in headings(text):
        anchor = github_anchor(title)
        result.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return result


def table_of_contents() -> list[tuple[str, str]]:
    """(title, anchor) of each entry of the list after **Contents**, before the first section."""
    toc = README[README.index("\n**Contents**\n"):README.index("\n## ")]
    return re.findall(r"^ *- \[(.+?)\]\(#([^)]+)\)", toc, re.M)


def test_github_anchors_follow_githubs_rules() -> None:
    assert github_anchor("Reviewing and detecting drift: `python -m provider`") == \
        "reviewing-and-detecting-drift-python--m-provider"
    assert github_anchor("Start here: two commands") == "start-here-two-commands"
    assert anchors("## A\n\n```sh\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def test_the_table_of_contents_lists_every_section_and_each_link_finds_its_heading() -> None:
    entries = table_of_contents()
    linked = {anchor for _, anchor in entries}
    sections = [title for level, title in headings(README) if level == 2]
    missing = [title for title in sections if github_anchor(title) not in linked]
    assert not missing, f"sections missing from the table of contents: {missing}"
    assert [anchor for _, anchor in entries if anchor in {github_anchor(t) for t in sections}] == \
        [github_anchor(t) for t in sections], "the table of contents lists the sections in the README's order"
    for title, anchor in entries:
        assert github_anchor(title) == anchor, f"the entry {title!r} links #{anchor}"
        assert anchor in anchors(README), f"the entry {title!r} links #{anchor}, which no heading has"


def test_every_link_within_the_readme_finds_its_heading() -> None:
    prose = re.sub(r"^```.*?^```", "", README, flags=re.M | re.S)
    links = re.findall(r"\]\(#([^)]+)\)", prose)
    assert len(links) > 20
    assert sorted({link for link in links if link not in anchors(README)}) == []


# Each term: the words that use it. Before the glossary, its first use in prose links it.
GLOSSARY = {
    "adopt": r"\badopt(?:s|ed|ing)?\b",
    "blackout": r"\bblackouts?\b",
    "blocked": r"\bblocked\b",
    "change window": r"\bchange windows?\b",
    "cutover": r"\bcutovers?\b",
    "drift": r"\bdrift(?:s|ed)?\b",
    "on-delete": r"\bon[-_ ]delete\b",
    "pending": r"\bpending\b",
    "preflight": r"\bpreflight\b",
    "the 72-hour budget": r"\b72-hour budget\b",
}


def test_the_glossary_defines_each_term_the_readme_uses_before_explaining_it() -> None:
    glossary = section("Glossary")
    defined = re.findall(r"^- \*\*(.+?)\*\*", glossary, re.M)
    assert sorted(defined) == sorted(GLOSSARY), "the glossary defines exactly the terms GLOSSARY lists"
    assert defined == sorted(defined, key=lambda t: t.removeprefix("the ")), "alphabetical, for looking up"
    for term in defined:
        entry = glossary.split(f"- **{term}**", 1)[1].split("\n- **", 1)[0]
        assert 80 < len(entry) < 900, f"{term}: one or two sentences"


def test_a_term_used_before_the_glossary_links_to_it_where_it_is_first_used() -> None:
    toc = (README.index("\n**Contents**\n"), README.index("\n## "))
    glossary_at = README.index("\n## Glossary")
    # prose only: no code block, code span, heading or table-of-contents entry uses a term

    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0))   # offsets stay those of README

    prose = re.sub(r"^```.*?^```", blank, README, flags=re.M | re.S)
    prose = re.sub(r"`[^`\n]*`", blank, prose)
    prose = re.sub(r"^#.*$", blank, prose, flags=re.M)
    prose = prose[:toc[0]] + " " * (toc[1] - toc[0]) + prose[toc[1]:]
    links = [m.span(1) for m in re.finditer(r"\[([^\]]+)\]\(#glossary\)", prose)]
    for term, pattern in GLOSSARY.items():
        first = re.search(pattern, prose, re.I)
        assert first, f"{term} is never used outside the glossary"
        if first.start() < glossary_at:
            assert any(start <= first.start() < end for start, end in links), \
                f"{term!r} is first used before the glossary, unlinked: {README[first.start() - 60:first.end() + 20]!r}"


def test_the_reference_table_names_each_input_its_stack_key_and_the_output_that_echoes_it() -> None:
    from provider.declaration import ECHO, INPUT_KEYS, OUTPUT_ONLY_KEYS, SECRET_KEYS, STACK_SPELLING

    reference = section("Reference")
    assert "](docs/reference.md)" in reference and (ROOT / "docs" / "reference.md").is_file()
    rows = [[cell.strip() for cell in row.split("|")[1:-1]]
            for row in re.findall(r"^\|.+\|$", reference, re.M)[2:]]

    def names(cell: str) -> list[str]:
        return re.findall(r"`(\w+)`", cell)

    inputs = [row for row in rows if row[0] != "—"]
    assert [names(row[0]) for row in inputs] == [[name] for name in INPUT_KEYS]
    for inp, stack, out in inputs:
        name = names(inp)[0]
        assert ("(secret)" in inp) == (name in SECRET_KEYS), inp
        assert names(stack) == ([STACK_SPELLING[name]] if name in STACK_SPELLING else []), (name, stack)
        assert names(out) == [ECHO[name]], (name, out)
    [only] = [row for row in rows if row[0] == "—"]
    # the output `region` is the live region (the input comes back as declared_region): named, and said
    assert sorted(names(only[2])) == sorted(["region", *(k for k in OUTPUT_ONLY_KEYS if k not in ECHO.values())])
    assert ECHO["region"] == "declared_region" and "The output `region` is the live region" in reference.replace("**", "")
