"""Issue 28, item 1: output that fits a review. Plan and drift list the numbers with something to
say, most urgent first, and count the rest; Markdown stays under 60,000 bytes whatever the fleet or
the names; ``--full-output`` holds every number; every output says when, from which commits and
through which API version it read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.harness import Emulator
from emulator.seed import COEXISTENCE, NOT_VERIFIED, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from provider.cli import commands
from provider.cli.markdown import CAP
from provider.cli.report import Report
from tests.cli.support import run

FLEET = 1_000
ACCOUNTS = 10
CHANGED = ("200000000000007", "200000000000500", "200000000000993")
UNKNOWN = "106540352240000"
POLICY = "whatsapp-local-storage__allowedRegions"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _rows(markdown: str) -> list[str]:
    return [line.split("`")[1] for line in markdown.splitlines() if line.startswith("| `")]


@pytest.fixture
def fleet(project: Callable[..., Path], emulator: Emulator, _emulator_server: Emulator,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """1,000 registered numbers in 10 business accounts, added to the in-process emulator's state
    directly (no HTTP); 3 of them declared elsewhere than they are. The first command reads them;
    the later ones reuse that read (``read_report``), as ``--full-output`` does within one command:
    what is tested after the first is the rendering."""
    state = _emulator_server.server.state  # type: ignore[union-attr]
    emulator.enable_rate_limit(False)  # this test is about output, not Meta's hourly limit
    numbers: dict[str, dict[str, Any]] = {}
    for i in range(FLEET):
        number_id, account = f"2000000000{i:05d}", f"3000000000{i % ACCOUNTS:05d}"
        state.add_number({"id": number_id, "display_phone_number": f"+1 555 {i:04d}", "verified_name": f"Fleet {i}",
                          "waba_id": account, "pin": "123456"})
        changed = {"region": "BR", "pin": "123456"} if number_id in CHANGED else {"region": "DEFAULT"}
        numbers[number_id] = {**changed, "wabaId": account}  # few keys: the stack file's YAML parse is slow
    directory = project(numbers)
    first = commands.read_report
    read: list[Report] = []

    def once(*args: Any, **kwargs: Any) -> Report:
        if not read:
            read.append(first(*args, **kwargs))
        return read[0]

    monkeypatch.setattr(commands, "read_report", once)
    yield directory


@pytest.mark.timeout(15)
def test_a_1000_number_plan_with_3_changes_fits_a_comment_names_them_and_counts_the_rest(
        fleet: Path, tmp_path: Path) -> None:
    full = tmp_path / "plan-full.md"
    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", "--full-output", str(full), project_dir=fleet)
    assert code == 0
    assert _size(out) < CAP and _rows(out) == list(CHANGED)
    assert "997 in sync (not listed: --show-sames lists them)." in out
    everything = full.read_text()
    assert len(_rows(everything)) == FLEET and _size(everything) > CAP  # --full-output: every number, uncapped

    code, out, _ = run("plan", "--stack", "test", "--show-sames", project_dir=fleet)
    listed = re.findall(r"^(\d{15})  (will change|in sync)", out, re.M)
    assert len(listed) == FLEET and [n for n, _ in listed[:3]] == list(CHANGED)  # changes first, then the rest

    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", "--show-sames", project_dir=fleet)
    shown = _rows(out)
    assert _size(out) <= CAP and shown[:3] == list(CHANGED) and len(shown) < FLEET
    assert f"**{FLEET - len(shown)} more numbers not shown here**" in out  # and where the rest are
    assert "<details><summary>" in out  # the in-sync rows fold

    code, out, _ = run("drift", "--stack", "test", "--format", "markdown", project_dir=fleet)
    assert code == 7 and _size(out) < CAP and _rows(out) == list(CHANGED)
    assert "**1000 numbers: 3 drift, 997 in sync**" in out


def test_a_40000_character_name_still_fits_and_the_full_output_keeps_it(
        project: Callable[..., Path], tmp_path: Path) -> None:
    name = "@<|`" * 10_000  # every character escapes to several: the escaped name alone is over 200 KB
    directory = project({REGISTERED_BR: {"region": "DE", "name": name, "pin": "123456"},
                         REGISTERED_DEFAULT: {"region": "BR", "name": "plain", "pin": "123456"}})
    full = tmp_path / "full.md"
    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", "--full-output", str(full),
                       project_dir=directory)
    assert code == 0 and _size(out) < CAP
    assert _rows(out) == [REGISTERED_DEFAULT, REGISTERED_BR] and "(39,800 more characters)" in out
    assert "more characters" not in full.read_text() and _size(full.read_text()) > 200_000  # nothing clipped


def test_plan_lists_the_most_urgent_first(project: Callable[..., Path], emulator: Emulator) -> None:
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    directory = project({
        UNREGISTERED: {"region": "DE", "pin": "123456"},  # a change (not registered: nothing goes offline)
        REGISTERED_DEFAULT: {"region": "BR", "pin": "123456"},  # a change that goes offline
        REGISTERED_BR: {"region": "BR", "pin": "123456"},  # live outside the policy (and a change)
        NOT_VERIFIED: {"region": "DE", "pin": "123456"},  # refused by preflight
        UNKNOWN: {"region": "DE"},  # an error
        COEXISTENCE: {"region": "DEFAULT"},  # nothing to say
    }, **{POLICY: ["BR", "DE", "DEFAULT"]})
    urgent_first = [UNKNOWN, NOT_VERIFIED, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED]
    code, out, _ = run("plan", "--stack", "test", "--format", "markdown", project_dir=directory)
    assert code == 1 and _rows(out) == urgent_first
    text = run("plan", "--stack", "test", project_dir=directory)[1]
    assert re.findall(r"^(\d{15})  ", text, re.M) == urgent_first and "1 in sync (not listed" in text


def test_every_output_starts_with_when_what_code_and_stack_commit_and_which_api_version(
        project: Callable[..., Path]) -> None:
    directory = project({REGISTERED_BR: {"region": "BR"}})
    code, out, _ = run("plan", "--stack", "test", project_dir=directory)
    head = out.splitlines()[1:5]
    assert re.fullmatch(r"Read at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)", head[0])
    assert re.fullmatch(r"Code: python -m provider \S+, commit [0-9a-f]{40}", head[1])  # this checkout
    assert head[2] == "Stack file: stacks/Pulumi.test.yaml, commit unknown (not in a git repository, or never committed)"
    assert head[3].startswith("Graph API: v25.0 at http://127.0.0.1:")

    git = ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "stack"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    markdown = run("drift", "--stack", "test", "--format", "markdown", project_dir=directory)[1]
    assert f"- Stack file: stacks/Pulumi.test.yaml, commit {commit}\n" in markdown
    (directory / "stacks" / "Pulumi.test.yaml").write_text(
        (directory / "stacks" / "Pulumi.test.yaml").read_text() + "\n# edited\n")
    data = json.loads(run("plan", "--stack", "test", "--format", "json", project_dir=directory)[1])
    assert data["stack_file_commit"] == commit and data["stack_file_uncommitted"] is True
    assert re.fullmatch(r"[0-9a-f]{40}", data["code_commit"]) and data["served_api_version"] == "v25.0"
    report = run("report", "--stack", "test", project_dir=directory)[1]
    assert f"commit {commit} with uncommitted changes" in report and "- Read at: " in report


def test_a_long_graph_api_url_from_the_stack_file_still_fits(
        project: Callable[..., Path], emulator: Emulator) -> None:
    """The header's "Graph API ... at URL" line was not clipped: a pull request's 60,000-character
    graphApiUrl (of an allowed host) made a 240 KB comment, which GitHub refuses."""
    url = emulator.url + "/" + "|<" * 30_000
    directory = project({REGISTERED_BR: {"region": "BR"}}, **{"whatsapp:graphApiUrl": url})
    _code, out, err = run("plan", "--stack", "test", "--format", "markdown", project_dir=directory)
    assert out.startswith("### WhatsApp Local Storage plan"), err
    assert _size(out) < CAP


def test_an_installed_package_inside_another_repository_names_no_code_commit(tmp_path: Path) -> None:
    """A package installed into a `.venv` inside a team's own repository is not that repository's
    code: the header said it ran that repository's HEAD."""

    repo = tmp_path / "infra"
    site = repo / ".venv" / "site-packages"
    shutil.copytree(Path(__file__).resolve().parents[2] / "provider", site / "provider",
                    ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    (repo / "main.tf").write_text("# someone else's code\n")
    for args in (["init", "-q"], ["add", "main.tf"], ["commit", "-q", "-m", "theirs"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    probe = "import sys; sys.path.insert(0, sys.argv[1]); from provider.cli import provenance; print(provenance._code_commit())"
    done = subprocess.run([sys.executable, "-c", probe, str(site)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "None", done.stdout
