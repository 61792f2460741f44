"""README.md's commands, run as written, and the outputs its comments promise.

Two parts of the README are executable: "Start here" (the newcomer's commands) and "The emulator"
(Meta's guide against the emulator, then drift). Their ```sh blocks are read from README.md
itself, so a command edited there is the command tested here. A comment line after a command
states its output: JSON, `exit N: ...`, or where to read a value; each is checked.

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


def test_a_fresh_clone_runs_the_main_job_up_to_the_plan_when_offline_without_pulumi(tmp_path):
    if _port_busy(PORT):
        pytest.skip(f"port {PORT} is in use on this machine")
    if shutil.which("pulumi", path="/usr/bin:/bin"):
        pytest.skip("pulumi is installed in /usr/bin or /bin, so it cannot be kept off PATH")
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
    done = run(script, tmp_path, PATH=f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", HTTPS_PROXY=dead_proxy,
               HOME=str(tmp_path / "home"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert re.search(r"^installing pulumi \S+ into .*/whatsapp-local-storage/\.pulumi-local/cli failed: "
                     r"cannot download Pulumi's installer: ", done.stderr, re.M), done.stderr
    assert "WhatsApp Local Storage plan for stack local" in done.stdout
    assert "calls:     settings(IN) -> register" in done.stdout
    assert not _port_busy(PORT)


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
