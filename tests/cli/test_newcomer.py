"""The newcomer's small things (issue 31, item 4) and the options spelled as ``pulumi`` spells them
(item 3): ``-s``/``--stack``, ``-C``/``--cwd``, ``--project-dir`` kept as an alias."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from emulator.harness import Emulator
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
