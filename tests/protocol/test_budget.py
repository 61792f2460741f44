"""Budget guard (issue 5): a plan that would push a number past 10 register/deregister calls in 72
hours is refused with zero mutating calls, and the error says when it will be allowed.

Meta blocks a number for 72 hours after the 11th call, so the provider counts the calls this
resource made (``registration_calls`` in state) and refuses before Meta would. Through the engine
protocol: the budget lives in the state the engine hands back to ``update``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_DEFAULT, UNREGISTERED
from tests.calllog import posts
from tests.engine import Engine
from tests.reliability_report import engine_config, registered, storage_of

ISO = "%Y-%m-%dT%H:%M:%SZ"
N = REGISTERED_DEFAULT


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime(ISO)


def _program(region: str, number: str = N) -> dict:
    return {"n": {"phone_number_id": number, "region": region, "pin": DEMO_PIN}}


def _adopted(emulator, number: str = N, region: str = "DEFAULT") -> Engine:
    eng = Engine(engine_config(emulator), skip_preview=True)
    step = eng.up(_program(region, number))["n"]
    assert step.error is None, step.error and step.error.details
    return eng


def _posts(emulator) -> list[str]:
    return [c["path"] for c in posts(emulator.calls())]


def test_seeded_budget_refuses_a_cutover_with_zero_calls_and_says_when(emulator):
    eng = _adopted(emulator)
    now = _now()
    seeded = [now - timedelta(hours=h) for h in (70, 60, 50, 40, 30, 20, 10, 5, 1)]  # 9 of 10 used
    eng.state["n"].outputs["registration_calls"] = [_iso(t) for t in seeded]
    emulator.clear_calls()

    step = eng.up(_program("BR"))["n"]

    assert step.op == "error" and step.failure.method == "Update"
    message = step.failure.last_line
    assert "refused before any change (no call was made)" in message
    assert "needs 2 register/deregister calls" in message and "made 9 in the last 72 hours" in message
    allowed = seeded[0] + timedelta(hours=72)  # the oldest call leaves the window: 8 + 2 = 10
    assert f"Allowed again at {_iso(allowed)}" in message, message
    assert _posts(emulator) == []
    assert registered(emulator.number(N)) and storage_of(emulator.number(N)) == "DEFAULT"
    assert eng.state["n"].outputs["registration_calls"] == [_iso(t) for t in seeded], "state untouched"


def test_a_plan_that_exactly_fits_the_budget_runs_and_records_its_calls(emulator):
    eng = _adopted(emulator)
    now = _now()
    seeded = [_iso(now - timedelta(hours=h)) for h in range(1, 9)]  # 8 used: 8 + 2 = 10 is allowed
    eng.state["n"].outputs["registration_calls"] = seeded

    step = eng.up(_program("BR"))["n"]

    assert step.error is None, step.error and step.error.details
    calls = step.outputs["registration_calls"]
    assert len(calls) == 10 and set(seeded) <= set(calls)
    assert storage_of(emulator.number(N)) == "BR"


def test_calls_older_than_72_hours_and_unreadable_entries_do_not_count(emulator):
    eng = _adopted(emulator)
    now = _now()
    old = [_iso(now - timedelta(hours=73, minutes=i)) for i in range(10)]
    eng.state["n"].outputs["registration_calls"] = old + ["not-a-time", "2026-13-45T99:00:00Z"]

    step = eng.up(_program("BR"))["n"]

    assert step.error is None, step.error and step.error.details
    assert len(step.outputs["registration_calls"]) == 2, "only this run's deregister and register remain"


def test_running_enough_updates_exhausts_the_budget_then_refuses_with_zero_calls(emulator):
    eng = _adopted(emulator)
    for region in ("BR", "IN", "DEFAULT", "SG", "GB"):  # 5 cutovers: 10 register/deregister calls
        step = eng.up(_program(region))["n"]
        assert step.error is None, step.error and step.error.details
    made = eng.state["n"].outputs["registration_calls"]
    assert len(made) == 10
    emulator.clear_calls()

    step = eng.up(_program("BR"))["n"]

    message = step.failure.last_line
    assert "made 10 in the last 72 hours" in message
    first = datetime.strptime(min(made), ISO).replace(tzinfo=timezone.utc)
    second = datetime.strptime(sorted(made)[1], ISO).replace(tzinfo=timezone.utc)
    assert f"Allowed again at {_iso(second + timedelta(hours=72))}" in message, message
    assert first <= second
    assert _posts(emulator) == [], "refused before Meta would have blocked the number for 72 hours"
    assert storage_of(emulator.number(N)) == "GB" and registered(emulator.number(N))
    assert not any(c.get("code") == 133016 for c in emulator.calls())


def test_a_register_only_plan_needs_one_call_and_is_refused_when_none_is_left(emulator):
    eng = Engine(engine_config(emulator), skip_preview=True)
    step = eng.up(_program("BR", UNREGISTERED))["n"]
    assert step.error is None and step.outputs["applied_steps"] == ["settings", "register"]
    emulator.patch(UNREGISTERED, platform_type="NOT_APPLICABLE")  # deregistered by hand (drift)
    now = _now()
    eng.state["n"].outputs["registration_calls"] = [_iso(now - timedelta(minutes=m)) for m in range(1, 11)]
    emulator.clear_calls()

    step = eng.up(_program("BR", UNREGISTERED))["n"]

    message = step.failure.last_line
    assert "needs 1 register/deregister calls" in message and "Allowed again at" in message
    assert _posts(emulator) == []
    assert not registered(emulator.number(UNREGISTERED))


@pytest.mark.parametrize("used,needed", [(9, 2), (10, 1), (10, 3)])
def test_the_refusal_time_is_when_enough_calls_have_left_the_window(used, needed):
    """Unit check of the arithmetic the messages above rely on (ledger.CallLedger.frees_at)."""
    from provider.ledger import BUDGET_WINDOW, CallLedger

    now = _now()
    prior = sorted(now - timedelta(hours=h) for h in range(1, used + 1))
    at = CallLedger.of(prior).frees_at(needed, now)
    excess = used + needed - 10
    assert at is not None, "over budget: refused"
    assert at == prior[excess - 1] + BUDGET_WINDOW
    assert CallLedger.of(prior[:10 - needed]).frees_at(needed, now) is None
