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


# --- the policy verdict and its sentence: compliance.verdict ---------------------------------------


def test_the_policy_verdict_is_one_sentence_that_every_reader_gets():
    from provider import compliance
    from provider.onboard.proposal import reasons_to_leave_out

    allowed = frozenset({"DE", "BR"})
    assert compliance.verdict(None, "IN") is None and compliance.verdict(allowed, "BR") is None
    violation = compliance.verdict(allowed, "IN")
    assert violation is not None
    sentence = violation.message()
    assert sentence == ("storage IN (India) is outside whatsapp-local-storage:allowedRegions (BR, DE): "
                        "this stack's policy does not let data rest there")
    registered_br = LiveNumber(
        node=PhoneNumberNode(id="1", platform_type="CLOUD_API", code_verification_status="VERIFIED"),
        storage=StorageConfiguration.model_validate({"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                     "data_localization_region": "BR"}))
    plan = planner.plan("1", planner.LiveState(True, "BR"), "IN", settings_flow=True)
    problems = preflight(plan, registered_br, Desired("IN", "123456"), prior_calls=[], now=NOW, breaker=None,
                         allowed_regions=allowed)
    assert [p.render() for p in problems] == [sentence]
    in_india = registered_br.model_copy(update={"storage": StorageConfiguration.model_validate(
        {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"})})
    assert reasons_to_leave_out(in_india, allowed)[0].startswith(violation.message("its live storage") + "; ")
    assert compliance.verdict(allowed, None) is not None, "unmanaged storage is never allowed by a policy"
