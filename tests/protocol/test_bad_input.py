"""Bad-input matrix (issue 5): every entry refused at check or preflight, with zero mutating calls.

Runs through the engine protocol (``tests/engine.py``: ``python -m pulumi.dynamic`` over gRPC):
Check failures come back as failures, provider errors as the traceback's last line. The entries
live in ``tests/reliability_report.py`` (``BAD_INPUTS``), which also prints the table; this module
writes it to ``tests/out/bad_input_table.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.seed import DEMO_PIN
from tests.calllog import posts
from tests.reliability_report import (
    BAD_INPUT_TABLE,
    BAD_INPUTS,
    BadInputRow,
    render_bad_input_table,
    run_bad_inputs,
    write_table,
)


# The module's fixture runs the whole bad-input matrix once: keep its tests on one pytest-xdist worker, or each
# worker that gets one of them runs it again.
pytestmark = pytest.mark.xdist_group("bad-input")


@pytest.fixture(scope="module")
def bad_input_rows(_emulator_server) -> Iterator[dict[str, BadInputRow]]:
    """Runs the whole matrix once (on the session emulator, reset per entry) and writes the table."""
    rows = run_bad_inputs(_emulator_server)
    write_table(BAD_INPUT_TABLE, render_bad_input_table(rows))
    yield {row.entry.key: row for row in rows}
    _emulator_server.reset("demo")


@pytest.mark.parametrize("entry", BAD_INPUTS, ids=lambda e: e.key)
def test_bad_input_is_refused_before_any_mutating_call(bad_input_rows, entry):
    row = bad_input_rows[entry.key]
    assert posts(row.calls) == [], f"{entry.key}: a refused input must not change anything"
    if entry.accepted is not None:
        assert row.stage == "accepted", row.error
        assert row.outputs["region"] == entry.accepted, "lower-case codes are normalised, not errors"
        return
    assert row.stage == entry.stage, f"{entry.key}: refused at {row.stage}, expected {entry.stage}: {row.error}"
    for text in entry.mentions:
        assert text in row.error, f"{entry.key}: the error must mention {text!r}:\n{row.error}"
    if entry.stage == "Check":
        assert row.calls == [], "check makes no network call"
    elif not entry.config:
        assert "refused before any change (no call was made)" in row.error, row.error
    assert DEMO_PIN not in row.error, "the PIN is never echoed"


def test_every_issue_entry_is_in_the_matrix():
    keys = " ".join(e.key for e in BAD_INPUTS)
    for needle in ('region: "XX"', '"UK"', '"EU"', 'region: ""', "region: None", "region: missing",
                   "three letters", "a number", "lower case", "(letters)", "(empty)", "(spaces)",
                   "5 digits", "7 digits", 'pin: "abcdef"', "pin: missing", "no access token",
                   '"not a url"', "unreachable", 'apiVersion "banana"', "not verified",
                   "Business app", "No Storage", "cut over a registered number"):
        assert needle in keys, needle


def test_a_wrong_pin_value_is_never_echoed_in_the_check_failure(bad_input_rows):
    for key in ('pin: "12345" (5 digits)', 'pin: "1234567" (7 digits)', 'pin: "abcdef" (letters)'):
        error = bad_input_rows[key].error
        assert "12345" not in error and "abcdef" not in error, error
