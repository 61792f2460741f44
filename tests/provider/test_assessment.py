"""The one assessment (``provider/assessment.py``), as a pure function: what it tells every caller."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from provider.assessment import Assessment, Context, DeleteFacts, assess
from provider.declaration import Declaration
from provider.ledger import CallLedger
from provider.models import LiveNumber, PhoneNumberNode, StorageConfiguration
from provider.safety import Rule

N = "106540352242922"
WEDNESDAY = datetime(2026, 12, 9, 12, 0, tzinfo=timezone.utc)
SUNDAY_WINDOW = ("Sun 03:00-05:00 Europe/Berlin",)
OPENS = datetime(2026, 12, 13, 2, 0, tzinfo=timezone.utc)  # 03:00 CET


def live(region: str = "BR", registered: bool = True) -> LiveNumber:
    storage = ({"status": "DEFAULT"} if region == "DEFAULT" else
               {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region})
    return LiveNumber(node=PhoneNumberNode(id=N, platform_type="CLOUD_API" if registered else "NOT_APPLICABLE",
                                           code_verification_status="VERIFIED"),
                      storage=StorageConfiguration.model_validate(storage))


def cutover(**context: Any) -> Assessment:
    declaration = Declaration(N, "IN", pin="123456", cutover_windows=SUNDAY_WINDOW)
    return assess(declaration, live("BR"), Context(now=WEDNESDAY, **context))


def test_a_cutover_outside_its_window_only_waits_until_the_next_opening() -> None:
    found = cutover()
    assert [p.rule for p in found.problems] == [Rule.OUTSIDE_WINDOW]
    assert found.waits == found.problems and found.refusals == () and found.clears_at == OPENS
    assert found.window is not None and found.window.next is not None and found.window.next.opens == OPENS
    assert not found.may_run_now


def test_a_spent_budget_waits_too_and_the_last_wait_to_clear_is_when_it_may_go() -> None:
    calls = CallLedger.of([WEDNESDAY - timedelta(hours=h) for h in range(1, 10)])  # 9 of 10 used
    found = cutover(ledger=calls)
    assert {p.rule for p in found.waits} == {Rule.OUTSIDE_WINDOW, Rule.BUDGET}
    assert found.budget_used == 9 and found.budget_left == 1
    budget = next(p for p in found.problems if p.rule is Rule.BUDGET)
    assert budget.clears_at == WEDNESDAY - timedelta(hours=9) + timedelta(hours=72), "the oldest call leaves"
    assert found.clears_at == OPENS, "Sunday's opening comes after the budget frees"


def test_an_empty_window_list_refuses_and_never_waits() -> None:
    declaration = Declaration(N, "IN", pin="123456", cutover_windows=())
    found = assess(declaration, live("BR"), Context(now=WEDNESDAY))
    assert [p.rule for p in found.refusals] == [Rule.WINDOWS_NEVER] and found.clears_at is None


def test_a_refusal_beside_a_wait_means_nothing_clears_by_itself() -> None:
    found = cutover(breaker="2: PinMismatch")
    assert {p.rule for p in found.problems} == {Rule.OUTSIDE_WINDOW, Rule.BREAKER} and found.clears_at is None


def test_a_retry_refusal_is_known_before_reading() -> None:
    found = assess(Declaration(N, "IN", pin="123456"), None, Context(now=WEDNESDAY, refusal="register failed"))
    assert [p.rule for p in found.refusals] == [Rule.RETRY_REFUSED] and not found.needs_read


def test_a_delete_that_makes_no_call_needs_no_read_and_no_windows() -> None:
    retained = Declaration(N, "DEFAULT", on_delete="retain", cutover_windows=("not a window",))
    found = assess(retained, None, Context(now=WEDNESDAY, deleting=DeleteFacts(frozenset(), False, "BR")))
    assert found.no_call and not found.needs_read and found.may_run_now and found.plan is None
    assert found.delete is not None and "keeps its storage BR (Brazil)" in (found.delete.message or "")
    disabled = Declaration(N, "DEFAULT", pin="123456", on_delete="disable")
    found = assess(disabled, None, Context(now=WEDNESDAY, deleting=DeleteFacts(frozenset(), False)))
    assert found.delete is not None and found.delete.disable and found.needs_read


def test_a_create_gate_is_a_problem_for_a_create_and_a_warning_when_nobody_knows() -> None:
    declaration = Declaration(N, "IN", pin="123456")
    assert [p.rule for p in assess(declaration, live("BR"), Context(now=WEDNESDAY, creating=True)).problems] \
        == [Rule.CREATE_CUTOVER]
    unknown = assess(declaration, live("BR"), Context(now=WEDNESDAY, creating=None))
    assert unknown.problems == () and unknown.if_created is not None
    assert assess(declaration, live("BR"), Context(now=WEDNESDAY)).if_created is None


def test_the_live_storage_is_judged_against_the_policy_even_when_in_sync() -> None:
    found = assess(Declaration(N, "BR"), live("BR"), Context(now=WEDNESDAY, allowed_regions=frozenset({"DE"})))
    assert found.in_sync and found.problems == () and found.live_violation is not None


def test_the_plan_follows_the_flow_the_context_gives() -> None:
    declaration = Declaration(N, "IN", pin="123456")
    settings_flow = assess(declaration, live("BR"), Context(now=WEDNESDAY)).plan
    register_flow = assess(declaration, live("BR"), Context(now=WEDNESDAY, settings_flow=False)).plan
    assert settings_flow is not None and register_flow is not None
    assert settings_flow.steps == ["deregister", "settings", "register"]
    assert register_flow.steps == ["deregister", "register"]


def test_a_refused_retry_still_tells_a_diff_whether_the_number_is_in_sync() -> None:
    refused = Context(now=WEDNESDAY, refusal="register failed")
    assert assess(Declaration(N, "BR", pin="123456"), live("BR"), refused).in_sync
    found = assess(Declaration(N, "IN", pin="123456"), live("BR"), refused)
    assert not found.in_sync and found.problems[0].rule is Rule.RETRY_REFUSED
