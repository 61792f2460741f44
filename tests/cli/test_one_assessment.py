"""Issue 24: ``plan``, ``drift``, ``report`` and ``import`` each decide through the one assessment, the
same function the provider's diff, create, update and delete use (``tests/protocol/test_one_assessment.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from emulator.seed import DEMO_WABA_ID
from tests.assessed import record_assessments
from tests.cli.support import LOCAL_NUMBERS, run


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
