"""The register/deregister calls as one value (``provider/ledger.py``), as tables: no engine, no Graph."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from provider.ledger import BUDGET_WINDOW, REGISTER_BUDGET, CallLedger

NOW = datetime(2026, 12, 9, 12, 0, tzinfo=timezone.utc)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@pytest.mark.parametrize("stored, kept", [
    (["2026-12-01T10:00:00Z", "2026-11-30T09:00:00Z"], ["2026-11-30T09:00:00Z", "2026-12-01T10:00:00Z"]),
    (["2026-12-01T10:00:00Z", "yesterday", 17, None, "2026-12-01 10:00:00"], ["2026-12-01T10:00:00Z"]),
    ("2026-12-01T10:00:00Z", []),  # not a list: nothing is trusted
    (None, []),
    ({"at": "2026-12-01T10:00:00Z"}, []),
])
def test_state_is_read_tolerantly_and_written_back_as_iso_strings_oldest_first(stored: object, kept: list[str]) -> None:
    assert CallLedger.from_state(stored).serialise() == kept


def test_entries_merge_as_multisets_and_calls_made_add_up() -> None:
    old = CallLedger.from_state(["2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"])
    successor = CallLedger.from_state(["2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z"])
    merged = old | successor
    assert merged.serialise() == ["2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z",
                                  "2026-12-01T12:00:00Z"], "same-second calls stay two; calls two entries carry count once"
    assert len(old + successor) == 6
    assert len(merged.add(datetime(2026, 12, 1, 12, 0, 0, 999, tzinfo=timezone.utc))) == 5


@pytest.mark.parametrize("used, more, fits", [(0, 2, True), (8, 2, True), (9, 2, False), (10, 0, True), (10, 1, False)])
def test_the_budget_counts_the_last_72_hours_only(used: int, more: int, fits: bool) -> None:
    ledger = CallLedger.of([ago(h) for h in range(1, used + 1)] + [ago(73), ago(100)])
    assert ledger.used(NOW) == used and ledger.left(NOW) == REGISTER_BUDGET - used
    assert ledger.allows(more, NOW) is fits and (ledger.frees_at(more, NOW) is None) is fits


def test_the_calls_free_up_when_the_oldest_leave_the_window() -> None:
    ledger = CallLedger.of([ago(h) for h in range(1, 11)])  # 10 calls, the oldest 10 hours ago
    assert ledger.frees_at(2, NOW) == ago(9) + BUDGET_WINDOW, "two calls fit once the two oldest have left"
    assert ledger.recent(ago(10) + BUDGET_WINDOW).used(ago(10) + BUDGET_WINDOW) == 9


@pytest.mark.parametrize("hours_ago, counts", [(1, True), (25, True), (71.9, True), (72.1, False)])
def test_a_call_counts_for_seventy_two_hours_and_no_longer(hours_ago: float, counts: bool) -> None:
    """Meta's moving window is 72 hours: a call from yesterday or two days ago still counts."""
    assert CallLedger.of([ago(hours_ago)]).used(NOW) == (1 if counts else 0)
