"""Record every call of the one assessment (``provider.assessment.assess``) and who made it.

Every caller reaches it through the module attribute (``assessment.assess``), so wrapping that
attribute sees each call; the AST test (``tests/provider/test_one_place.py``) pins that nothing
plans or preflights around it.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any

import pytest

from provider import assessment

# The functions whose frames name a caller: the adapter's methods and the CLI's commands.
CALLERS = {
    "provider/resource.py": {"diff", "create", "update", "delete", "read", "check"},
    "provider/cli/report.py": {"assess"},
    "provider/onboard/proposal.py": {"differences"},
}


class Assessments:
    """The callers of each assessment made since the last ``clear``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[frozenset[str]] = []

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def callers(self) -> set[str]:
        with self._lock:
            return set().union(*self.calls)

    def add(self, callers: frozenset[str]) -> None:
        with self._lock:
            self.calls.append(callers)


def record_assessments(monkeypatch: pytest.MonkeyPatch) -> Assessments:
    seen = Assessments()
    real = assessment.assess

    def recording(*args: Any, **kwargs: Any) -> assessment.Assessment:
        names: set[str] = set()
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            path = frame.f_code.co_filename.replace("\\", "/")
            for module, functions in CALLERS.items():
                if path.endswith(module) and frame.f_code.co_name in functions:
                    names.add(f"{module.rsplit('/', 1)[-1][:-3]}.{frame.f_code.co_name}")
            frame = frame.f_back
        seen.add(frozenset(names))
        return real(*args, **kwargs)

    monkeypatch.setattr(assessment, "assess", recording)
    return seen
