"""Issue 24: ``plan``, ``drift``, ``report`` and ``import`` each decide through the one assessment, the
same function the provider's diff, create, update and delete use (``tests/protocol/test_one_assessment.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from emulator.seed import DEMO_WABA_ID
from tests.assessed import record_assessments
from tests.cli.support import LOCAL_NUMBERS, run, state_export


@pytest.mark.parametrize("command, caller", [
    (("plan",), "report.assess"), (("drift",), "report.assess"), (("report",), "report.assess"),
    (("import", "--waba-id", DEMO_WABA_ID), "proposal.differences"),
])
def test_plan_drift_report_and_import_each_go_through_the_one_assessment(
        project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], caller: str) -> None:
    seen = record_assessments(monkeypatch)
    project_dir = project(LOCAL_NUMBERS)
    code, _out, err = run(*command, "--stack", "test", project_dir=project_dir)
    assert code in (0, 7), err
    assert caller in seen.callers and len(seen.calls) >= len(LOCAL_NUMBERS)


def test_ready_targets_lists_what_the_one_assessment_lets_go(
        project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`plan --ready-targets` sorts the verdicts of the same assessment: no second decision."""
    seen = record_assessments(monkeypatch)
    project_dir = project(LOCAL_NUMBERS)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_export({})))
    code, out, err = run("plan", "--stack", "test", "--state", str(state), "--ready-targets", project_dir=project_dir)
    assert code == 0, err
    assert "report.assess" in seen.callers and len(seen.calls) >= len(LOCAL_NUMBERS)
    urns = out.splitlines()  # an empty state: every declared number is a create, listed by its built URN
    assert len(urns) == len(LOCAL_NUMBERS) and all(u.startswith("urn:pulumi:test::") for u in urns), out
