"""The provider in the engine's real flows (docs/engine.md, "Flows"): several phases of
one command in ONE provider process, engine retries (``on_error`` hooks) re-sending a failed call
to the same process, a process killed mid-cutover, configuration saved in state, and the
``allowedRegions`` policy. Each test sends the calls in the order the engine sends them.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from emulator.seed import DEMO_PIN, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED
from tests.engine import Engine, Options, ProviderCallError, ResourceState, urn
from tests.protocol.support import is_registered, live_storage

POLICY = "whatsapp-local-storage:allowedRegions"
NUMBERS = "whatsapp-local-storage:phoneNumbers"


def config(emu, **extra):
    return {"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url,
            "whatsapp:apiVersion": "v25.0", **extra}


def number(pid, region, **kw):
    return {"phone_number_id": pid, "region": region, "pin": DEMO_PIN, **kw}


def posted(emu):
    """The last path segment of every POST, in order (``register``, ``settings``...)."""
    return [c["path"].rsplit("/", 1)[-1] for c in emu.calls() if c["method"] == "POST"]


def adopt(emu, program, **extra) -> Engine:
    eng = Engine(config(emu, **extra))
    steps = eng.up(program)
    assert all(s.error is None for s in steps.values()), [s.error.last_line for s in steps.values() if s.error]
    emu.clear_calls()
    return eng


def news(eng, props):
    return {**{k: v for k, v in props.items() if v is not None}, "__provider": eng.blob}


def refresh_one(proc, eng, name):
    """The refresh phase for one resource: Read, then Diff(olds=read outputs, news=stored inputs)."""
    old = eng.state[name]
    id_, outs, inputs = proc.read(urn(name), old.id, old.outputs, old.inputs)
    resp = proc.diff(urn(name), id_, outs, old.inputs)
    eng.state[name] = ResourceState(id_, inputs if inputs is not None else old.inputs, outs)
    return resp.changes == resp.DIFF_SOME


def create(proc, eng, name, props):
    checked, failures = proc.check(urn(name), {}, news(eng, props))
    assert failures == [], failures
    id_, outs = proc.create(urn(name), checked)
    eng.state[name] = ResourceState(id_, checked, outs)
    return outs


# --- one process for the refresh and the update or destroy ------------------------------------


def test_destroy_refresh_disables_a_number_whose_own_refresh_ran_in_the_same_process(emulator):
    """A replaced number's pending delete in `destroy --refresh`: the saved stack config lists only
    its successor, and the entry's own refresh in this process is not a resource declaring it."""
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR", on_delete="disable")},
                **{NUMBERS: json.dumps({REGISTERED_DEFAULT: {"name": "n", "region": "DEFAULT"}})})
    with eng.process() as proc:  # `pulumi destroy --refresh`
        assert refresh_one(proc, eng, "n") is False
        proc.delete(urn("n"), eng.state["n"].id, eng.state["n"].outputs)
        stderr = proc
    assert posted(emulator) == ["deregister", "settings", "register"]
    assert live_storage(emulator, REGISTERED_BR) == "DEFAULT" and is_registered(emulator, REGISTERED_BR)
    assert "not disabled" not in stderr.stderr


def test_up_refresh_after_a_rename_without_alias_creates_the_new_resource_and_skips_disable(emulator):
    eng = adopt(emulator, {"old": number(REGISTERED_BR, "BR", on_delete="disable")})
    with eng.process() as proc:
        refresh_one(proc, eng, "old")  # the number's own refresh under its old name
        outs = create(proc, eng, "new", number(REGISTERED_BR, "BR", on_delete="disable"))
        proc.delete(urn("old"), eng.state["old"].id, eng.state["old"].outputs)
        stderr = proc
    assert outs["applied_steps"] == [] and outs["region"] == "BR", "adopted, not refused as a duplicate"
    assert posted(emulator) == [], "the rename neither cut the number over nor disabled it"
    assert "not disabled, no call made: another resource of this deployment declares the number" in stderr.stderr


# --- reads that keep the inputs valid ----------------------------------------------------------


def test_a_number_moved_to_no_storage_out_of_band_keeps_refreshing_and_shows_the_drift(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {"status": "NO_STORAGE_ENABLED"}})
    for _ in range(2):  # the second refresh diffs the inputs the first one stored
        steps = eng.refresh()
        assert steps["n"].op == "drift", steps["n"].error
        assert steps["n"].outputs["storage_status"] == "NO_STORAGE_ENABLED" and "region" not in steps["n"].outputs
        assert eng.state["n"].inputs["region"] == "BR", "the declared region is kept"
    step = eng.up({"n": number(REGISTERED_BR, "BR")}, refresh=True)["n"]
    assert step.op == "error" and "NO_STORAGE_ENABLED, which this provider does not manage" in step.failure.last_line
    assert posted(emulator) == []


def test_a_new_declared_region_the_number_already_has_is_recorded_without_a_call(emulator):
    """The number was moved BR -> IN out of band and the program now declares IN: no call is
    needed, but ``declared_region`` is the region input's stored echo, so diff asks for an update
    that rewrites it. Else a later move to No Storage makes refresh store BR, which nobody declares."""
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    step = eng.up({"n": number(REGISTERED_BR, "IN")})["n"]
    assert step.op == "update" and step.outputs["applied_steps"] == [], step
    assert eng.state["n"].outputs["declared_region"] == "IN"
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {"status": "NO_STORAGE_ENABLED"}})
    eng.refresh()
    assert eng.state["n"].inputs["region"] == "IN", "refresh keeps the region the program declares"
    assert posted(emulator) == []


def test_enabled_storage_that_names_no_region_is_never_cut_over(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED"}})
    step = eng.up({"n": number(REGISTERED_BR, "BR")})["n"]
    assert step.op == "error" and "UNKNOWN, which this provider does not manage" in step.failure.last_line
    assert posted(emulator) == [] and is_registered(emulator, REGISTERED_BR)


def test_stored_inputs_without_a_region_from_an_older_provider_are_diffed_not_failed(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    del eng.state["n"].inputs["region"]  # what the old read stored for a No Storage number
    assert eng.refresh()["n"].op == "same"
    assert eng.state["n"].inputs["region"] == "BR"


def test_refresh_migrates_old_state_without_reporting_drift(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    eng.state["n"].outputs["schema_version"] = 1
    del eng.state["n"].outputs["declared_region"]
    assert eng.refresh()["n"].op == "same"
    assert eng.state["n"].outputs["declared_region"] == "BR" and eng.state["n"].outputs["schema_version"] == 2


# --- engine retries (on_error hooks) in the same process ---------------------------------------


def test_a_retried_create_after_a_pin_refusal_is_refused_before_any_call(emulator):
    emulator.patch(UNREGISTERED, pin="654321")
    eng = Engine(config(emulator))
    with eng.process() as proc:
        checked, _ = proc.check(urn("n"), {}, news(eng, number(UNREGISTERED, "BR")))
        with pytest.raises(ProviderCallError) as first:
            proc.create(urn("n"), checked)
        assert "Do NOT re-run automatically" in first.value.last_line
        emulator.clear_calls()
        with pytest.raises(ProviderCallError) as retry:  # the hook re-sends the same Create
            proc.create(urn("n"), checked)
    assert emulator.calls() == []
    assert "refused before any change" in retry.value.last_line
    assert "an earlier attempt for this number in this run failed" in retry.value.last_line


def _unregistered_with_failing_register(emulator, calls_in_state: int) -> Engine:
    """An adopted number, back to unregistered, with ``calls_in_state`` register/deregister calls in
    its state and Meta answering its next three registers with a transient 503."""
    now = datetime.now(timezone.utc)
    eng = adopt(emulator, {"n": number(UNREGISTERED, "DEFAULT")})
    emulator.patch(UNREGISTERED, platform_type="NOT_APPLICABLE", status="DISCONNECTED")
    eng.state["n"].outputs["registration_calls"] = [
        (now - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(1, calls_in_state + 1)]
    emulator.fault("POST", f"/{UNREGISTERED}/register", status=503, code=133004, count=3, retry_after=0)
    emulator.clear_calls()
    return eng


def test_calls_of_failed_attempts_count_against_the_budget_of_a_retry(emulator):
    eng = _unregistered_with_failing_register(emulator, 7)
    old = eng.state["n"]
    with eng.process() as proc:
        checked, _ = proc.check(urn("n"), old.inputs, news(eng, number(UNREGISTERED, "DEFAULT")))
        with pytest.raises(ProviderCallError) as first:
            proc.update(urn("n"), old.id, old.outputs, checked)
        assert "This run made 3 register/deregister calls" in first.value.last_line
        emulator.clear_calls()
        with pytest.raises(ProviderCallError) as retry:  # 7 in state + 3 failed = 10: none left
            proc.update(urn("n"), old.id, old.outputs, checked)
    assert posted(emulator) == []
    assert "made 10 in the last 72 hours" in retry.value.last_line


def test_the_register_retries_inside_one_attempt_never_pass_the_budget(emulator):
    """9 calls in state leave one: the register is sent once, and its transient failure is not
    retried into Meta's 11th call (133016 would block the offline number for 72 hours)."""
    eng = _unregistered_with_failing_register(emulator, 9)
    old = eng.state["n"]
    with eng.process() as proc:
        checked, _ = proc.check(urn("n"), old.inputs, news(eng, number(UNREGISTERED, "DEFAULT")))
        with pytest.raises(ProviderCallError) as failed:
            proc.update(urn("n"), old.id, old.outputs, checked)
    assert posted(emulator) == ["register"]
    assert "This run made 1 register/deregister calls" in failed.value.last_line


def test_a_retry_after_a_failed_read_converges(emulator):
    eng = Engine(config(emulator))
    emulator.fault("GET", f"/{UNREGISTERED}", status=400, code=100, count=1)
    with eng.process() as proc:
        checked, _ = proc.check(urn("n"), {}, news(eng, number(UNREGISTERED, "BR")))
        with pytest.raises(ProviderCallError):
            proc.create(urn("n"), checked)
        _, outs = proc.create(urn("n"), checked)  # the same URN again: not a second resource
    assert outs["applied_steps"] == ["settings", "register"]
    assert posted(emulator) == ["settings", "register"]


def test_a_retry_after_a_failed_read_back_keeps_the_calls_the_failed_attempt_made(emulator):
    """The plan ran, only reading the number back failed: the retry finds it converged, and its
    outputs record the two calls that the failed attempt made (state never saw them)."""
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    fault = lambda: emulator.fault("GET", f"/{REGISTERED_BR}", status=400, code=100, count=1)  # noqa: E731
    steps = eng.up({"n": number(REGISTERED_BR, "IN")}, skip_preview=True, before_apply=fault,
                   options={"n": Options(on_error_retries=1)})
    step = steps["n"]
    assert step.error is None, step.error and step.error.last_line
    assert posted(emulator) == ["deregister", "settings", "register"], "the retry made no call"
    assert step.outputs["applied_steps"] == [] and len(step.outputs["registration_calls"]) == 2


# --- a provider process killed mid-cutover -------------------------------------------------------


def test_the_next_up_finishes_a_cutover_that_a_killed_process_left_half_done(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")})
    emulator.fault("POST", f"/{REGISTERED_BR}/settings", drop=True, delay_ms=3000)
    proc = eng.process()
    old = eng.state["n"]
    checked, _ = proc.check(urn("n"), old.inputs, news(eng, number(REGISTERED_BR, "IN")))
    worker = threading.Thread(target=lambda: pytest.raises(ProviderCallError, proc.update, urn("n"), old.id,
                                                           old.outputs, checked), daemon=True)
    worker.start()
    for _ in range(200):
        if any(c["path"].endswith("/deregister") for c in emulator.calls()):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # settings is on the wire now, and hangs
    proc.proc.kill()  # a cancelled pipeline: the number was deregistered, settings never answered
    proc.close()
    time.sleep(3.2)
    assert not is_registered(emulator, REGISTERED_BR)
    emulator.clear_calls()
    step = eng.up({"n": number(REGISTERED_BR, "IN")})["n"]
    assert step.error is None, step.error.last_line
    assert posted(emulator) == ["settings", "register"], "only the calls still needed"
    assert live_storage(emulator, REGISTERED_BR) == "IN" and is_registered(emulator, REGISTERED_BR)


def test_a_create_that_a_killed_process_left_offline_is_finished_by_the_next_create(emulator):
    # a create with allow_cutover_on_create was killed after deregister: the number is offline, and
    # the next create (nothing reached state) must not be stopped by the create-cutover gate
    emulator.patch(REGISTERED_DEFAULT, platform_type="NOT_APPLICABLE", status="DISCONNECTED")
    eng = Engine(config(emulator))
    step = eng.up({"n": number(REGISTERED_DEFAULT, "BR")})["n"]
    assert step.error is None, step.error.last_line
    assert posted(emulator) == ["settings", "register"]


# --- configuration saved in state ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["refresh", "destroy"])
def test_a_rejected_token_in_refresh_or_destroy_says_they_use_the_configuration_of_the_last_up(emulator, command):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR", on_delete="disable")})
    assert eng.saved_config is not None  # saved by the adopting up
    eng.saved_config["whatsapp:accessToken"] = "revoked-token"  # the token the last `up` saved, since revoked
    step = (eng.refresh() if command == "refresh" else eng.destroy(refresh=True))["n"]
    assert step.op == "error"
    line = step.failure.last_line
    assert "run on the configuration saved in state" in line and f"`pulumi {command} --run-program`" in line
    assert "revoked-token" not in step.failure.details
    assert posted(emulator) == []


@pytest.mark.parametrize("command", ["refresh", "destroy"])
def test_an_app_secret_added_since_the_last_up_is_named_as_config_saved_by_that_up(emulator, command):
    """Meta turned on Require App Secret and the stack config now sets whatsapp:appSecret: refresh
    and destroy still use the saved config without it, so "set whatsapp:appSecret" alone misleads."""
    secret = "review-app-secret-0f3c9a"
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR", on_delete="disable")})
    emulator.set_app_secret(secret)
    eng.config["whatsapp:appSecret"] = secret
    try:
        step = (eng.refresh() if command == "refresh" else eng.destroy(refresh=True))["n"]
    finally:
        emulator.set_app_secret(None)
    assert step.op == "error"
    line = step.failure.last_line
    assert "run on the configuration saved in state" in line and f"`pulumi {command} --run-program`" in line, line
    assert secret not in step.failure.details
    assert posted(emulator) == []


# --- allowedRegions --------------------------------------------------------------------------------


def test_a_resource_outside_allowed_regions_is_refused_by_check_with_zero_calls(emulator):
    eng = Engine(config(emulator, **{POLICY: '["BR", "DE"]'}))
    step = eng.up({"n": number(UNREGISTERED, "IN")})["n"]
    assert step.op == "error" and step.failure.method == "Check"
    assert POLICY in step.failure.details and "IN (India)" in step.failure.details
    assert emulator.calls() == []


def test_a_malformed_allowed_regions_setting_is_a_check_failure_naming_it(emulator):
    eng = Engine(config(emulator, **{POLICY: '["BR", "UK"]'}))
    step = eng.up({"n": number(UNREGISTERED, "BR")})["n"]
    assert step.op == "error" and POLICY in step.failure.details and "GB" in step.failure.details
    assert emulator.calls() == []


def test_a_number_that_drifts_outside_the_policy_stays_visible_to_refresh_expect_no_changes(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR")}, **{POLICY: '["BR"]'})
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    assert eng.refresh()["n"].op == "drift"  # records IN as the new declaration
    assert eng.state["n"].inputs["region"] == "IN"
    assert eng.refresh(preview_only=True)["n"].op == "drift", "still outside allowedRegions: not in sync"


def test_on_delete_disable_never_moves_a_number_to_default_when_default_is_not_allowed(emulator):
    eng = adopt(emulator, {"n": number(REGISTERED_BR, "BR", on_delete="disable")},
                **{POLICY: '["BR"]', NUMBERS: "{}"})  # the stack config no longer lists it
    step = eng.destroy()["n"]
    assert step.op == "error" and "outside whatsapp-local-storage:allowedRegions" in step.failure.last_line
    assert posted(emulator) == [] and live_storage(emulator, REGISTERED_BR) == "BR"


def test_an_engine_that_passes_no_stack_config_gets_a_notice_that_only_the_environment_applies(emulator):
    """Pulumi CLIs before 3.139 send dynamic providers no stack config (and do not check Pulumi.yaml's
    requiredPulumiVersion): the provider must say that the stack file's whatsapp:* keys are not in force."""
    eng = Engine({}, env={"WHATSAPP_ACCESS_TOKEN": emulator.token, "WHATSAPP_GRAPH_API_URL": emulator.url})
    assert eng.up({"n": number(REGISTERED_BR, "BR")})["n"].error is None
    assert "passed no stack configuration" in eng.last_stderr and "older than 3.139" in eng.last_stderr
    eng = Engine(config(emulator))
    assert eng.up({"n": number(REGISTERED_BR, "BR")})["n"].error is None
    assert "passed no stack configuration" not in eng.last_stderr
