"""Issue 25, item 2: a failure table per resource kind, and a generic row for a step no row names.

Pure: ``failures.analyse`` with a ``Reader`` that records what it was asked.
"""

from __future__ import annotations

from provider.errors import PinMismatch, RequestTimeout, TransientError
from provider.failures import (
    PHONE_NUMBER_STORAGE,
    READBACK,
    UNKNOWN_STEP,
    Case,
    ConvergeFailed,
    FailureTable,
    Look,
    StepFailure,
    analyse,
)
from provider.planner import Step


class _Reader:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def registered_now(self, number_id: str) -> bool | None:
        self.asked.append("registered")
        return True

    def storage_now(self, number_id: str) -> str | None:
        self.asked.append("storage")
        return "IN"


def _profile_said(error: ConvergeFailed) -> str:
    return f"whatsapp {error.number_id}: the profile update got no answer; it may have changed"


# A second kind's own table, with a step name the phone number's table also has.
PROFILE = FailureTable("BusinessProfile", (
    Case("update_unknown", Step.REGISTER.value, Look.NOTHING, offline=False, storage_read=False,
         render=_profile_said, when=lambda failure: isinstance(failure.cause, TransientError)),
))


def test_a_step_no_row_names_gets_the_generic_row_which_reads_nothing_and_claims_nothing() -> None:
    reader = _Reader()
    cause = PinMismatch("wrong PIN", code=133005)
    error = analyse("106540352242922", StepFailure("set_two_factor", cause), reader, previous="BR", desired="IN",
                    registration_calls=["2026-11-30T11:00:00Z"], ran=["deregister"])
    assert error.case is UNKNOWN_STEP and reader.asked == []
    assert (error.offline, error.storage_read) == (True, False), "unknown: it may be offline, storage unknown"
    text = str(error)
    assert "set_two_factor failed (before it, this run applied deregister)" in text and "not known" in text
    assert "Do NOT re-run automatically: every attempt uses a PIN guess" in text
    assert "This run made 1 register/deregister calls" in text and error.retry_refusal


def test_a_kind_declares_its_own_table_and_its_rows_never_leak_into_another_kinds() -> None:
    transient = RequestTimeout("slow", method="POST", path="/1/whatsapp_business_profile")
    failure = StepFailure(Step.REGISTER.value, transient)
    reader = _Reader()
    own = analyse("1", failure, reader, previous=None, desired="", table=PROFILE)
    assert own.case.name == "update_unknown" and reader.asked == [], "the kind's row reads nothing"
    assert (own.offline, own.storage_read) == (False, False)
    assert str(own) == "whatsapp 1: the profile update got no answer; it may have changed"
    phone = analyse("1", failure, _Reader(), previous="BR", desired="IN")
    # the phone number's own row for a register whose answer never came: it read the node, which is registered
    assert phone.case.name == "register_unknown" and "reads back registered" in str(phone)
    refused = analyse("1", StepFailure(Step.REGISTER.value, PinMismatch("no")), _Reader(), previous=None, desired="",
                      table=PROFILE)
    assert refused.case is UNKNOWN_STEP, "a failure no row of the kind's table explains gets the generic row"
    assert ConvergeFailed("1", failure, offline=False, table=PROFILE).case.name == "update_unknown"


def test_the_phone_number_table_explains_every_planned_step_and_the_read_back() -> None:
    assert PHONE_NUMBER_STORAGE.steps == {step.value for step in Step} | {READBACK}
    assert UNKNOWN_STEP not in PHONE_NUMBER_STORAGE.cases and UNKNOWN_STEP.step is None
