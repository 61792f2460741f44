"""Issue 17: each decision in one place, tested where it lives.

Pure tests of the shared builders (the policy verdict, the PIN rule, problem rendering, the
failure table, the exit codes, the error tree). The engine-protocol tests show the same
decisions through ``python -m pulumi.dynamic``.
"""

from __future__ import annotations

import pytest

from provider import planner
from provider.errors import PreflightError
from provider.ledger import CallLedger
from provider.models import LiveNumber, PhoneNumberNode, StorageConfiguration
from provider.safety import Desired, Rule, preflight
from datetime import datetime, timezone

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
TODAY = NOW.date()


def _live(status: str, verification: str) -> LiveNumber:
    return LiveNumber(
        node=PhoneNumberNode(id="1", platform_type="NOT_APPLICABLE", code_verification_status=verification),
        storage=StorageConfiguration.model_validate({"status": status}))


# --- Problem.render never interprets Meta's data -------------------------------------------------


def test_a_problem_quoting_metas_data_with_braces_renders_it_verbatim():
    number = _live("{EXPIRED}", "{EXPIRED} {0} {pin")  # Meta's text, braces and all
    plan = planner.plan("1", planner.LiveState(False, number.region), "BR", settings_flow=True)
    problems = preflight(plan, number, Desired("BR", None), prior_calls=CallLedger(), now=NOW, breaker=None)
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
    problems = preflight(plan, registered_br, Desired("IN", "123456"), prior_calls=CallLedger(), now=NOW,
                         breaker=None, allowed_regions=allowed)
    assert [p.render() for p in problems] == [sentence]
    in_india = registered_br.model_copy(update={"storage": StorageConfiguration.model_validate(
        {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"})})
    assert reasons_to_leave_out(in_india, allowed)[0].startswith(violation.message("its live storage") + "; ")
    assert compliance.verdict(allowed, None) is not None, "unmanaged storage is never allowed by a policy"


# --- the PIN rule: inputs.is_pin, for check and preflight alike ------------------------------------


def test_the_pin_rule_is_six_ascii_digits_matched_whole_in_inputs_and_in_preflight():
    from provider.inputs import is_pin, validate

    assert is_pin("012345")
    for bad in ("١٢٣٤٥٦", "12345", "1234567", "123456\n", " 123456", "12345a", 123456, None):
        assert not is_pin(bad), bad
        if isinstance(bad, str):
            assert [f.property for f in validate({"phone_number_id": "1", "region": "BR", "pin": bad},
                                                 today=TODAY)[1]] == ["pin"]
            number = _live("DEFAULT", "VERIFIED")
            plan = planner.plan("1", planner.LiveState(False, number.region), "DEFAULT", settings_flow=True)
            found = preflight(plan, number, Desired("DEFAULT", bad), prior_calls=CallLedger(), now=NOW, breaker=None)
            assert [p.rule for p in found] == [Rule.PIN_FORMAT], bad


# --- exit codes and the JSON error document: provider.exits --------------------------------------


def test_the_cli_and_import_answer_a_failure_with_one_document_shape(tmp_path):
    import io
    import json

    from provider import exits
    from provider.cli import main

    out = io.StringIO()
    code = main(["plan", "--stack", "nope", "--project-dir", str(tmp_path), "--format", "json"], out=out, err=io.StringIO())
    cli = json.loads(out.getvalue())
    out = io.StringIO()
    code_import = main(["import", "--stack", "nope", "--project-dir", str(tmp_path), "--waba-id", "1", "--format", "json"],
                       out=out, err=io.StringIO())
    imported = json.loads(out.getvalue())
    assert code == code_import == exits.USAGE == cli["exit_code"] == imported["exit_code"]
    assert {"command", "version", "error", "exit_code"} <= set(cli) & set(imported)
    assert imported["written"] is False and imported["stack"] == "nope"
    assert exits.summary() == "0 ok, 1 an error, 2 a usage error, 7 drift or non-compliance found"


# --- the failure analysis: one table (failures.CASES) picks the facts and renders them -----------


class _Reader:
    def __init__(self, registered: bool | None = None, storage: str | None = "IN", storage_fails: bool = False):
        self.registered, self.storage, self.storage_fails = registered, storage, storage_fails
        self.asked: list[str] = []

    def registered_now(self, number_id):
        self.asked.append("registered")
        return self.registered

    def storage_now(self, number_id):
        from provider.errors import ServerError

        self.asked.append("storage")
        if self.storage_fails:
            raise ServerError("down", http_status=500)
        return self.storage


def _analyse(failure, reader):
    from provider.failures import analyse

    return analyse("1", failure, reader, previous="BR", desired="IN", registration_calls=["2026-11-30T11:00:00Z"],
                   ran=["deregister", "settings", "register"])


def test_each_row_of_the_failure_table_reads_only_what_it_needs_and_says_where_the_number_was_left():
    from provider.errors import PinMismatch, ReadBackMismatch, RequestTimeout, ServerError
    from provider.failures import CASES, StepFailure

    fatal, transient = PinMismatch("no", code=133005), RequestTimeout("slow", method="POST", path="/1/deregister")
    rows = [  # failure, reader, case, asked, (offline, storage, storage_read), a phrase of its sentence
        (StepFailure("readback", ServerError("x")), _Reader(), "readback", [], (False, "IN", True), "reading it back failed"),
        (StepFailure("readback", ReadBackMismatch(registered=True, storage="DEFAULT")), _Reader(), "readback_mismatch",
         [], (False, "DEFAULT", True), "reads back registered with storage DEFAULT"),
        (StepFailure("readback", ReadBackMismatch(registered=False, storage=None)), _Reader(), "readback_mismatch",
         [], (True, None, True), "reads back NOT registered"),
        (StepFailure("set_pin", fatal), _Reader(), "set_pin", [], (False, "BR", True), "still serves traffic"),
        (StepFailure("deregister", transient), _Reader(registered=True), "deregister_unknown", ["registered"],
         (False, "BR", True), "still registered"),
        (StepFailure("deregister", transient), _Reader(registered=None), "deregister_unknown", ["registered"],
         (True, "BR", False), "may be offline"),
        (StepFailure("deregister", transient), _Reader(registered=False), "deregister_unknown", ["registered"],
         (True, "BR", True), "NOT registered"),
        (StepFailure("deregister", fatal), _Reader(), "deregister_refused", [], (False, "BR", True), "still registered"),
        (StepFailure("settings", fatal, restored=True), _Reader(), "settings_restored", [], (False, "BR", True),
         "serves traffic as before"),
        (StepFailure("settings", fatal), _Reader(), "settings_unregistered", [], (True, "BR", True), "still is not"),
        (StepFailure("settings", fatal, recovery_step="settings", recovery_cause=fatal), _Reader(), "restore_failed",
         [], (True, "BR", False), "left offline"),
        (StepFailure("settings", fatal, recovery_step="register", recovery_cause=fatal), _Reader(storage="BR"),
         "register_after_restore_failed", ["storage"], (True, "BR", True), "Current storage: BR (Brazil)."),
        (StepFailure("register", transient), _Reader(registered=True), "register_unknown", ["registered"],
         (False, "IN", True), "reads back registered: Meta took the register"),
        (StepFailure("register", transient), _Reader(registered=False), "register_unknown", ["registered"],
         (True, "IN", True), "reads back NOT registered"),
        (StepFailure("register", transient), _Reader(registered=None), "register_unknown", ["registered"],
         (True, "IN", False), "whether Meta registered it is unknown"),
        (StepFailure("register", ServerError("busy", http_status=503)), _Reader(registered=False), "register_unknown",
         ["registered"], (True, "IN", True), "register failed with a temporary error"),
        (StepFailure("register", fatal), _Reader(storage_fails=True), "register", ["storage"], (True, "IN", False),
         "Current storage: IN (India) (as last set; could not read it back)"),
    ]
    assert {row[2] for row in rows} == {case.name for case in CASES}, "every row is exercised"
    for failure, reader, name, asked, facts, phrase in rows:
        error = _analyse(failure, reader)
        assert error.case.name == name and reader.asked == asked, name
        assert (error.offline, error.storage, error.storage_read) == facts, name
        assert phrase in str(error), (name, str(error))
        if failure.cause is fatal and name not in ("readback", "settings_restored"):
            assert "Do NOT re-run automatically: every attempt uses a PIN guess" in str(error), name
            assert error.retry_refusal and "Do NOT re-run automatically" in error.retry_refusal


# --- network failures are classes (HTTPX's model), keeping the machine-readable reason -----------


def test_each_network_reason_is_its_own_class_and_keeps_its_reason():
    from provider.errors import (NETWORK_ERRORS_BY_REASON, ConnectError, ConnectionDropped, DNSError,
                                 ForeignHostRefused, NetworkError, ProxyAuthRequired, ProxyError, RequestTimeout,
                                 Timeout, TLSError, TransientError)

    expected = {"refused": ConnectError, "dns": DNSError, "tls": TLSError, "proxy": ProxyError,
                "proxy_auth": ProxyAuthRequired, "timeout": RequestTimeout, "dropped": ConnectionDropped,
                "foreign_host": ForeignHostRefused}
    for reason, cls in expected.items():
        error = NETWORK_ERRORS_BY_REASON[reason]("host: boom", method="GET", path="/1")
        assert type(error) is cls and error.reason == reason and isinstance(error, TransientError), reason
        assert error.summary == cls.summary and error.fix == cls.fix and cls.summary in str(error)
        assert error.unreachable == (reason in {"refused", "dns", "tls", "proxy", "proxy_auth"}), reason
    assert Timeout is RequestTimeout and RequestTimeout("slow", method="GET", path="/1").reason == "timeout"
    with pytest.raises(TypeError):  # no class swap from a string: a reason is a class
        NetworkError("?", reason="dns", method="GET", path="/1")  # type: ignore[call-arg]  # the refused old call


# --- per-process memory: in Fleet, cleared by its one reset; secrets are never forgotten ----------


def test_the_one_reset_forgets_notices_and_dropped_fields_but_never_a_secret(capsys):
    from provider.config import ProviderConfig
    from provider.fleet import current, reset_process_state
    from provider.redact import redact

    secret = "a-token-registered-in-this-process-0001"
    reset_process_state()
    try:
        for _ in range(2):
            current().notices.all_once(ProviderConfig.load({"whatsapp:accessToken": secret},
                                                           {"WHATSAPP_ACCESS_TOKEN": "another-token-000000"}).notices)
        assert current().fields.drop("is_pin_enabled") and not current().fields.drop("is_pin_enabled")
        assert capsys.readouterr().err.count("notice") == 1
        reset_process_state()
        current().notices.all_once(ProviderConfig.load({"whatsapp:accessToken": secret},
                                                       {"WHATSAPP_ACCESS_TOKEN": "another-token-000000"}).notices)
        assert capsys.readouterr().err.count("notice") == 1, "a new process prints its notice again"
        assert not current().fields.dropped("is_pin_enabled")
        assert secret not in redact(f"still printable after the reset: {secret}")
    finally:
        reset_process_state()


def test_a_phone_number_id_given_as_a_negative_number_is_refused():
    from provider.inputs import validate

    inputs, failures = validate({"phone_number_id": -5, "region": "BR"}, today=TODAY)
    assert [f.property for f in failures] == ["phone_number_id"]
    inputs, failures = validate({"phone_number_id": 106540352242922, "region": "BR"}, today=TODAY)
    assert failures == [] and inputs["phone_number_id"] == "106540352242922"
