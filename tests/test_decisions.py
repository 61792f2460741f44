"""Issue 17: each decision in one place, tested where it lives.

Pure tests of the shared builders (the policy verdict, the PIN rule, problem rendering, the
failure table, the exit codes, the error tree). The engine-protocol tests show the same
decisions through ``python -m pulumi.dynamic``.
"""

from __future__ import annotations

from provider import planner
from provider.errors import PreflightError
from provider.models import LiveNumber, PhoneNumberNode, StorageConfiguration
from provider.safety import Desired, Rule, preflight
from datetime import datetime, timezone

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _live(status: str, verification: str) -> LiveNumber:
    return LiveNumber(
        node=PhoneNumberNode(id="1", platform_type="NOT_APPLICABLE", code_verification_status=verification),
        storage=StorageConfiguration.model_validate({"status": status}))


# --- Problem.render never interprets Meta's data -------------------------------------------------


def test_a_problem_quoting_metas_data_with_braces_renders_it_verbatim():
    number = _live("{EXPIRED}", "{EXPIRED} {0} {pin")  # Meta's text, braces and all
    plan = planner.plan("1", planner.LiveState(False, number.region), "BR", settings_flow=True)
    problems = preflight(plan, number, Desired("BR", None), prior_calls=[], now=NOW, breaker=None)
    assert [p.rule for p in problems] == [Rule.UNMANAGED_STORAGE, Rule.PIN_MISSING, Rule.NOT_VERIFIED]
    error = PreflightError("1", problems)  # raised KeyError inside the constructor before
    assert "code_verification_status {EXPIRED} {0} {PIN)" in str(error)
    assert "set `pin`" in str(error)
    assert "set `pin`" in problems[1].render(None) and "set `Pin`" in problems[1].render({"pin": "Pin"})
