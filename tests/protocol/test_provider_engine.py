"""PhoneNumberStorage as the Pulumi engine drives it: python -m pulumi.dynamic over gRPC, with
the pickled provider a real resource produces, against the emulator. Commands are scoped to
provider processes as the CLI does (tests/engine.py): `up` is a preview process, then an update
process."""

from __future__ import annotations

import json

import pytest

from emulator.seed import (
    DEMO_PIN,
    DEMO_WABA_ID,
    REGISTERED_BR,
    REGISTERED_DEFAULT,
    UNREGISTERED,
)
from provider import versions
from tests.calllog import post_edges
from tests.engine import Engine, ProviderProcess, urn
from tests.protocol.support import live_storage, succeeded


def config(emu, version="v25.0", **extra):
    return {"whatsapp:accessToken": emu.token, "whatsapp:graphApiUrl": emu.url,
            "whatsapp:apiVersion": version, **extra}


def number(pid, region, **kw):
    return {"phone_number_id": pid, "region": region, "pin": DEMO_PIN, **kw}


def post_steps(emu):
    return post_edges(emu.calls())


def step_of(steps, name):
    """The named step, asserted to have succeeded."""
    succeeded(steps, name)
    return steps[name]


def test_create_adopts_a_number_already_in_the_declared_state_with_zero_mutating_calls(emulator):
    eng = Engine(config(emulator))
    steps = eng.up({"br": number(REGISTERED_BR, "br")})
    out = step_of(steps, "br").outputs
    assert steps["br"].op == "create"
    assert post_steps(emulator) == []
    assert out["applied_steps"] == [] and out["region"] == "BR" and out["registered"] is True
    assert out["storage_status"] == "IN_COUNTRY_STORAGE_ENABLED"
    assert eng.state["br"].id == REGISTERED_BR
    assert "adopted" in eng.last_stderr


def test_create_on_an_unregistered_number_runs_settings_then_register(emulator):
    eng = Engine(config(emulator))
    out = step_of(eng.up({"n": number(UNREGISTERED, "IN")}), "n").outputs
    assert post_steps(emulator) == ["settings", "register"]
    assert out["applied_steps"] == ["settings", "register"]
    assert out["region"] == "IN" and out["registered"] is True
    assert len(out["registration_calls"]) == 1
    assert "settings(IN) ok" in eng.last_stderr and "register ok" in eng.last_stderr


def test_create_refuses_to_cut_over_a_registered_number_whose_storage_differs(emulator):
    eng = Engine(config(emulator))
    step = eng.up({"n": number(REGISTERED_DEFAULT, "BR")})["n"]
    assert step.op == "error"
    assert "declare its current region first, then change it in a separate update" in step.failure.last_line
    assert post_steps(emulator) == []
    assert "n" not in eng.state
    assert live_storage(emulator, REGISTERED_DEFAULT) == "DEFAULT"


def test_create_cuts_over_when_allow_cutover_on_create_is_set(emulator):
    eng = Engine(config(emulator))
    out = step_of(eng.up({"n": number(REGISTERED_DEFAULT, "BR", allow_cutover_on_create=True)}), "n").outputs
    assert post_steps(emulator) == ["deregister", "settings", "register"]
    assert out["region"] == "BR" and out["registered"] is True
    assert len(out["registration_calls"]) == 2


def test_a_region_change_is_an_update_never_a_replacement(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    assert eng.preview({"n": number(REGISTERED_BR, "IN")}) == {"n": "update"}
    emulator.clear_calls()
    step = step_of(eng.up({"n": number(REGISTERED_BR, "IN")}), "n")
    assert step.op == "update"
    assert post_steps(emulator) == ["deregister", "settings", "register"]
    assert step.outputs["region"] == "IN" and step.outputs["applied_steps"] == ["deregister", "settings", "register"]
    assert live_storage(emulator, REGISTERED_BR) == "IN"
    assert emulator.number(REGISTERED_BR)["platform_type"] == "CLOUD_API"


def test_going_to_default_turns_local_storage_off_and_keeps_other_settings(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    out = step_of(eng.up({"n": number(REGISTERED_BR, "DEFAULT")}), "n").outputs
    assert out["region"] == "DEFAULT" and out["storage_status"] == "DEFAULT" and out["registered"] is True
    assert live_storage(emulator, REGISTERED_BR) == "DEFAULT"
    body = [c["body"] for c in emulator.calls() if c["path"].endswith("/settings") and c["method"] == "POST"]
    assert body == [{"storage_configuration": {"status": "IN_COUNTRY_STORAGE_DISABLED"}}]


def test_a_new_phone_number_id_replaces_the_resource(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    assert eng.preview({"n": number(REGISTERED_DEFAULT, "DEFAULT")}) == {"n": "replace"}


@pytest.mark.parametrize("change", [{"pin": "654321"}, {"on_delete": "disable"}, {"enforce_pin": True},
                                    {"waba_id": DEMO_WABA_ID}])
def test_an_input_only_change_rewrites_outputs_with_zero_api_calls_in_update(emulator, change):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    step = step_of(eng.up({"n": {**number(REGISTERED_BR, "BR"), **change}}, skip_preview=True), "n")
    assert step.op == "update"
    key, value = next(iter(change.items()))
    assert step.outputs[key] == value
    assert step.outputs["applied_steps"] == []
    # diff reads the live number once (node and settings together; with a wabaId, the node from the
    # account's listing); update reuses that read
    node = f"/{DEMO_WABA_ID}/phone_numbers" if "waba_id" in change else f"/{REGISTERED_BR}"
    assert sorted(c["path"] for c in emulator.calls()) == sorted([node, f"/{REGISTERED_BR}/settings"])


def test_an_old_schema_version_migrates_through_an_update_that_makes_no_mutating_call(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    # state written by schema 1: no declared_region, no on_delete echo
    eng.state["n"].outputs["schema_version"] = 1
    del eng.state["n"].outputs["declared_region"]
    del eng.state["n"].outputs["on_delete"]
    emulator.clear_calls()
    step = step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    assert step.op == "update"
    assert step.outputs["schema_version"] == 2 and step.outputs["on_delete"] == "retain"
    assert step.outputs["declared_region"] == "BR" and step.outputs["region"] == "BR"
    assert post_steps(emulator) == []


def test_destroy_retains_the_number_by_default_with_no_call(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    assert eng.destroy()["n"].op == "delete"
    assert emulator.calls() == []
    assert live_storage(emulator, REGISTERED_BR) == "BR"
    assert "retained" in eng.last_stderr


def test_a_number_that_left_the_stack_config_with_on_delete_disable_converges_to_default_and_registered(emulator):
    eng = Engine(config(emulator))
    keep = {"k": number(REGISTERED_DEFAULT, "DEFAULT")}
    eng.config["whatsapp-local-storage:phoneNumbers"] = json.dumps({REGISTERED_BR: {"name": "n"}, REGISTERED_DEFAULT: {}})
    step_of(eng.up({"n": number(REGISTERED_BR, "BR", on_delete="disable"), **keep}), "n")
    emulator.clear_calls()
    eng.config["whatsapp-local-storage:phoneNumbers"] = json.dumps({REGISTERED_DEFAULT: {"name": "k"}})
    assert eng.up(keep)["n"].op == "delete"
    assert post_steps(emulator) == ["deregister", "settings", "register"]
    assert live_storage(emulator, REGISTERED_BR) == "DEFAULT"
    assert emulator.number(REGISTERED_BR)["platform_type"] == "CLOUD_API"


def test_refresh_after_an_out_of_band_change_reports_drift_and_the_live_region(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    steps = eng.refresh(preview_only=True)
    assert steps["n"].op == "drift"
    assert steps["n"].outputs["region"] == "IN"
    assert steps["n"].new_inputs is not None  # a refresh step carries what Read returned
    assert steps["n"].new_inputs["region"] == "IN"
    # what refresh keeps: the echoed inputs and the register budget
    assert steps["n"].outputs["pin"] == DEMO_PIN and steps["n"].outputs["on_delete"] == "retain"
    assert eng.state["n"].outputs["region"] == "BR", "--preview-only must not write state"
    assert post_steps(emulator) == []


def test_refresh_in_sync_reports_no_drift(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    assert eng.refresh(preview_only=True)["n"].op == "same"


def test_a_plain_preview_shows_drift_and_up_converges_it_without_refresh(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.patch(REGISTERED_BR, settings={"storage_configuration": {"status": "DEFAULT"}})
    assert eng.preview({"n": number(REGISTERED_BR, "BR")}) == {"n": "update"}
    out = step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n").outputs
    assert out["applied_steps"] == ["deregister", "settings", "register"]
    assert live_storage(emulator, REGISTERED_BR) == "BR"


def test_diff_without_credentials_compares_with_the_stored_outputs(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    fork = Engine({"whatsapp:graphApiUrl": emulator.url}, blob=eng.blob)
    fork.state = eng.state
    assert fork.preview({"n": number(REGISTERED_BR, "BR")}) == {"n": "same"}
    assert fork.preview({"n": number(REGISTERED_BR, "IN")}) == {"n": "update"}
    assert emulator.calls() == []


def test_unknown_inputs_during_preview_mean_changes(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    with eng.process() as proc:
        news = {**eng.state["n"].inputs, "region": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
        checked, failures = proc.check(urn("n"), eng.state["n"].inputs, news)
        assert failures == []
        resp = proc.diff(urn("n"), REGISTERED_BR, eng.state["n"].outputs, checked)
        assert resp.changes == resp.DIFF_SOME and list(resp.replaces) == []


def test_a_number_deleted_from_its_business_account_is_reported_gone(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR", waba_id=DEMO_WABA_ID)}), "n")
    emulator.delete_number(REGISTERED_BR)
    assert eng.refresh()["n"].op == "deleted"
    assert "n" not in eng.state
    assert "no longer exists" in eng.last_stderr


def test_a_number_the_token_cannot_see_is_an_error_not_a_deletion(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR", waba_id=DEMO_WABA_ID)}), "n")
    # the number still exists and its business account still lists it, but reading it says 100/33
    # (its node and its settings: with its wabaId, a refresh takes the node from the listing)
    emulator.fault("GET", f"/{REGISTERED_BR}*", count=10, status=400, code=100, subcode=33)
    step = eng.refresh()["n"]
    assert step.op == "error"
    assert f"cannot see number {REGISTERED_BR}: deleted, or the token lacks permission" in step.failure.last_line
    assert "n" in eng.state


@pytest.mark.parametrize("fault", [
    {"status": 400, "code": 33, "message": "The business phone number has been deleted"},
    {"status": 400, "code": 100, "message": "Unsupported get request. Object with ID '106540352242923' does "
                                            "not exist, cannot be loaded due to missing permissions, or does "
                                            "not support this operation"},
], ids=["code 33", "code 100"])
def test_a_missing_object_answer_without_subcode_33_never_confirms_a_deletion(emulator, fault):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR", waba_id=DEMO_WABA_ID)}), "n")
    emulator.delete_number(REGISTERED_BR)  # the business account no longer lists it either
    emulator.fault("GET", f"/{REGISTERED_BR}", count=10, **fault)
    step = eng.refresh()["n"]
    assert step.op == "error", "nothing is marked deleted without Meta's subcode 33"
    assert str(fault["code"]) in step.failure.last_line
    assert "n" in eng.state


def test_without_waba_id_a_vanished_number_is_never_marked_deleted(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.delete_number(REGISTERED_BR)
    step = eng.refresh()["n"]
    assert step.op == "error" and "Set waba_id" in step.failure.last_line
    assert "n" in eng.state


@pytest.mark.parametrize("target", ["IN", "DEFAULT"])
def test_a_retired_v20_converges_with_the_flow_meta_serves_today_and_says_so(emulator, target):
    today = versions.utc_today()
    served = versions.served("v20.0", today)
    assert served != "v20.0" and versions.settings_flow(served)  # retired on 2026-09-24
    eng = Engine(config(emulator, "v20.0"))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    out = step_of(eng.up({"n": number(REGISTERED_BR, target)}), "n").outputs
    assert post_steps(emulator) == ["deregister", "settings", "register"]
    register = [c for c in emulator.calls() if c["path"].endswith("/register")][0]
    assert "data_localization_region" not in register["body"]
    assert {c["served_version"] for c in emulator.calls()} == {served}
    assert out["region"] == target and out["registered"] is True and live_storage(emulator, REGISTERED_BR) == target
    notice = f"apiVersion v20.0 was retired by Meta on 2026-09-24; on {today.isoformat()} Meta serves it as {served}"
    assert notice in eng.last_stderr


def test_after_2027_01_21_a_retired_v20_is_served_as_v22_by_both_clocks(emulator):
    import datetime

    after = datetime.datetime(2027, 2, 1, 12, 0, tzinfo=datetime.timezone.utc)
    if emulator.now() < after.timestamp():
        emulator.advance(after.timestamp() - emulator.now())  # the emulator's control clock
    day = datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc)
    # the provider's one clock (provider/clock.py), set the way the CLI's environment sets it
    eng = Engine(config(emulator, "v20.0"), env={"WHATSAPP_TEST_NOW": day.strftime("%Y-%m-%dT%H:%M:%SZ")})
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    step_of(eng.up({"n": number(REGISTERED_BR, "IN")}), "n")
    assert post_steps(emulator) == ["deregister", "settings", "register"]
    served = versions.served("v20.0", day.date())  # v22.0 until 2027-05-20, then newer: never v21.0 again
    assert {c["served_version"] for c in emulator.calls()} == {served} and versions.parse(served) >= (22, 0)
    assert f"on {day.date().isoformat()} Meta serves it as {served}" in eng.last_stderr


def test_a_version_that_ends_within_90_days_gets_a_notice(emulator):
    eng = Engine(config(emulator, "v21.0"))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    ends = versions.ends_within("v21.0", versions.utc_today(), 90)
    if ends is not None:  # until 2027-01-21
        assert f"Meta retires v21.0 on {ends.isoformat()}" in eng.last_stderr
    else:
        assert "Meta serves it as v2" in eng.last_stderr  # from then on: retired, served as a newer one


def test_a_locked_account_refuses_without_taking_the_number_offline_and_says_do_not_rerun(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.patch(REGISTERED_BR, account_locked=True)
    emulator.clear_calls()
    step = eng.up({"n": number(REGISTERED_BR, "IN")})["n"]
    assert step.op == "error"
    message = step.failure.last_line
    assert "131031" in message and "Do NOT re-run automatically" in message, message
    assert "WhatsApp Manager" in message
    assert emulator.number(REGISTERED_BR)["platform_type"] == "CLOUD_API"  # never offline
    assert post_steps(emulator) == ["deregister"]


def test_enforce_pin_sets_the_pin_before_deregistering(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    emulator.clear_calls()
    out = step_of(eng.up({"n": number(REGISTERED_BR, "IN", enforce_pin=True, pin="246810")}), "n").outputs
    assert post_steps(emulator) == ["set_pin", "deregister", "settings", "register"]
    assert out["applied_steps"] == ["set_pin", "deregister", "settings", "register"]
    assert emulator.pin_matches(REGISTERED_BR, "246810")


def test_registration_calls_accumulate_across_updates_and_survive_refresh(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n")
    step_of(eng.up({"n": number(REGISTERED_BR, "IN")}), "n")
    out = step_of(eng.up({"n": number(REGISTERED_BR, "BR")}), "n").outputs
    assert len(out["registration_calls"]) == 4
    assert all(t.endswith("Z") and "T" in t for t in out["registration_calls"])
    assert len(eng.refresh()["n"].outputs["registration_calls"]) == 4


def test_check_reports_each_bad_input_with_its_property(emulator):
    with ProviderProcess(config(emulator)) as proc:
        _, failures = proc.check(urn("n"), {}, {"phone_number_id": "12a", "region": "UK", "pin": "123",
                                                "__provider": Engine(config(emulator)).blob})
    props = dict(failures)
    assert set(props) == {"phone_number_id", "region", "pin"}
    assert "GB" in props["region"]
    assert "123" not in props["pin"]


def test_a_new_resource_for_a_number_an_unchanged_resource_manages_is_refused_before_any_call(emulator):
    eng = Engine(config(emulator))
    step_of(eng.up({"a": number(REGISTERED_BR, "BR")}), "a")
    emulator.clear_calls()
    steps = eng.up({"a": number(REGISTERED_BR, "BR"), "b": number(REGISTERED_BR, "IN", allow_cutover_on_create=True)})
    assert steps["a"].error is None
    assert steps["b"].op == "error"
    assert "two resources in this stack declare the same phone number" in steps["b"].failure.last_line
    assert post_steps(emulator) == []
    assert live_storage(emulator, REGISTERED_BR) == "BR"
