"""The emulated Graph API over real HTTP: every rule and error code the emulator implements (emulator/README.md)."""

from __future__ import annotations

import datetime
import json
import urllib.parse

import pytest

from provider import versions

from emulator.seed import (COEXISTENCE, DEMO_PIN, DEMO_WABA_ID, NO_STORAGE, NOT_VERIFIED,
                           REGIONS, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED)

REGISTER = {"messaging_product": "whatsapp", "pin": DEMO_PIN}
ENABLE_BR = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                       "data_localization_region": "BR"}}
DISABLE = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_DISABLED"}}
DAY = 24 * 3600


def error_of(resp, status: int, code: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    assert err["fbtrace_id"]
    assert err["message"]
    return err


def storage(api, id_) -> dict:
    resp = api.get(f"/{id_}/settings")
    assert resp.status_code == 200, resp.text
    return resp.json()["storage_configuration"]


# -- auth and addressing ---------------------------------------------------------------------

def test_missing_token_is_401_190(emulator, make_emulator_http):
    api = make_emulator_http(emulator, token="")
    err = error_of(api.get(f"/{REGISTERED_DEFAULT}"), 401, 190)
    assert err["type"] == "OAuthException"


def test_wrong_token_is_401_190(emulator, make_emulator_http):
    api = make_emulator_http(emulator, token="not-the-token")
    err = error_of(api.post(f"/{UNREGISTERED}/register", json=REGISTER), 401, 190)
    assert err["type"] == "OAuthException"
    # nothing was counted against the number's budget
    assert emulator.number(UNREGISTERED)["registration_calls"] == []


def test_access_token_query_parameter_is_accepted(emulator, make_emulator_http):
    api = make_emulator_http(emulator, token="")
    resp = api.get(f"/{REGISTERED_DEFAULT}", params={"access_token": emulator.token})
    assert resp.status_code == 200
    assert resp.json()["id"] == REGISTERED_DEFAULT


def test_extra_tokens_from_the_command_line_are_accepted(make_emulator_http):
    from emulator.harness import start_emulator
    with start_emulator(tokens=("first", "second")) as emu:
        assert emu.token == "first"
        for token, status in (("first", 200), ("second", 200), ("local-dev-token", 401)):
            assert make_emulator_http(emu, token=token).get(f"/{REGISTERED_DEFAULT}").status_code == status


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_object_is_100_33_graph_method_exception(emulator_api, method):
    resp = emulator_api.request(method, "/999999999999999")
    err = error_of(resp, 400, 100)
    assert err["error_subcode"] == 33
    assert err["type"] == "GraphMethodException"
    verb = method.lower()
    assert err["message"] == (
        f"Unsupported {verb} request. Object with ID '999999999999999' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation")


def test_unknown_object_on_an_edge_is_100_33(emulator_api):
    err = error_of(emulator_api.post("/999999999999999/register", json=REGISTER), 400, 100)
    assert err["error_subcode"] == 33
    err = error_of(emulator_api.get("/999999999999999/settings"), 400, 100)
    assert err["error_subcode"] == 33


def test_deleted_number_is_100_33_but_its_waba_still_lists(emulator, emulator_api):
    emulator.delete_number(REGISTERED_DEFAULT)
    err = error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}"), 400, 100)
    assert err["error_subcode"] == 33
    ids = [n["id"] for n in emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"limit": 50}).json()["data"]]
    assert REGISTERED_DEFAULT not in ids and REGISTERED_BR in ids


@pytest.mark.parametrize("version", ["v21", "vX.0", "v21.0.1", "version"])
def test_malformed_version_is_400_100(emulator_api, version):
    error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}", version=version), 400, 100)


def test_unknown_route_is_404_with_envelope(emulator_api):
    err = error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}/nonsense"), 404, 100)
    assert "Unknown path" in err["message"]
    error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}/settings/extra"), 404, 100)
    error_of(emulator_api.get("/"), 404, 100)


def test_unsupported_method_on_an_edge_is_100(emulator_api):
    err = error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}/register"), 400, 100)
    assert "error_subcode" not in err


def test_every_response_has_usage_headers(emulator, emulator_api):
    for resp in (emulator_api.get(f"/{REGISTERED_DEFAULT}"), emulator_api.get("/999"),
                 emulator_api.get(f"/{REGISTERED_DEFAULT}/nonsense")):
        assert json.loads(resp.headers["X-App-Usage"])["call_count"] >= 0
        usage = json.loads(resp.headers["X-Business-Use-Case-Usage"])
        assert isinstance(usage, dict) and usage
        assert resp.headers["Content-Length"] == str(len(resp.content))
    emulator.set_usage(95)
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}")
    assert json.loads(resp.headers["X-App-Usage"])["call_count"] == 95
    assert json.loads(resp.headers["X-Business-Use-Case-Usage"])[DEMO_WABA_ID][0]["call_count"] == 95


def test_error_envelope_has_whatsapp_error_data(emulator_api):
    err = error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register",
                                     json={**REGISTER, "pin": "000000"}), 400, 133005)
    assert err["message"].startswith("(#133005) ")
    assert err["type"] == "OAuthException"
    assert err["error_data"] == {"messaging_product": "whatsapp",
                                 "details": "Two-step verification PIN incorrect."}


# -- reading a number ------------------------------------------------------------------------

def test_a_single_number_without_fields_answers_metas_default_fields(emulator_api):
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").json() == {
        "id": REGISTERED_DEFAULT, "display_phone_number": "+1 555-0100", "verified_name": "Acme Support",
        "quality_rating": "GREEN", "code_verification_status": "VERIFIED"}


def test_get_number_requested_fields(emulator_api):
    fields = "display_phone_number,verified_name,code_verification_status,status,platform_type,is_on_biz_app,is_pin_enabled"
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": fields}).json() == {
        "id": REGISTERED_DEFAULT, "display_phone_number": "+1 555-0100", "verified_name": "Acme Support",
        "code_verification_status": "VERIFIED", "status": "CONNECTED", "platform_type": "CLOUD_API",
        "is_on_biz_app": False, "is_pin_enabled": True}
    got = emulator_api.get(f"/{UNREGISTERED}", params={"fields": "platform_type,is_pin_enabled,status"}).json()
    assert got["platform_type"] == "NOT_APPLICABLE" and got["is_pin_enabled"] is False
    assert got["status"] != "CONNECTED"
    got = emulator_api.get(f"/{COEXISTENCE}", params={"fields": "is_on_biz_app"}).json()
    assert got == {"id": COEXISTENCE, "is_on_biz_app": True}
    got = emulator_api.get(f"/{NOT_VERIFIED}", params={"fields": "code_verification_status"}).json()
    assert got["code_verification_status"] == "NOT_VERIFIED"


def test_unknown_field_is_400_100(emulator_api):
    err = error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": "id,bogus"}), 400, 100)
    assert "bogus" in err["message"]


def test_out_of_band_change_is_visible(emulator, emulator_api):
    emulator.patch(REGISTERED_DEFAULT, platform_type="ON_PREMISE", status="CONNECTED")
    got = emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": "platform_type"}).json()
    assert got["platform_type"] == "ON_PREMISE"
    # registering on Cloud API migrates an On-Premises number
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 200
    assert emulator.number(REGISTERED_DEFAULT)["platform_type"] == "CLOUD_API"


# -- settings --------------------------------------------------------------------------------

def test_get_settings_shapes(emulator_api):
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json() == {
        "storage_configuration": {"status": "DEFAULT"}, "calling": {"status": "ENABLED"}}
    assert storage(emulator_api, REGISTERED_BR) == {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                    "data_localization_region": "BR"}
    assert storage(emulator_api, NO_STORAGE) == {"status": "NO_STORAGE_ENABLED", "retention_minutes": 60}


def test_enable_and_disable_storage_on_unregistered_number(emulator_api):
    resp = emulator_api.post(f"/{UNREGISTERED}/settings", json=ENABLE_BR)
    assert resp.status_code == 200 and resp.json() == {"success": True}
    assert storage(emulator_api, UNREGISTERED) == ENABLE_BR["storage_configuration"]
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=DISABLE).json() == {"success": True}
    assert storage(emulator_api, UNREGISTERED) == {"status": "DEFAULT"}


def test_settings_status_and_region_are_case_insensitive(emulator_api):
    body = {"storage_configuration": {"status": "in_country_storage_enabled", "data_localization_region": "de"}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=body).status_code == 200
    assert storage(emulator_api, UNREGISTERED) == {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                   "data_localization_region": "DE"}
    body = {"storage_configuration": {"status": "in_country_storage_disabled"}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=body).status_code == 200
    assert storage(emulator_api, UNREGISTERED) == {"status": "DEFAULT"}


@pytest.mark.parametrize("region", REGIONS)
def test_every_supported_region_is_accepted(emulator_api, region):
    body = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=body).status_code == 200
    assert storage(emulator_api, UNREGISTERED)["data_localization_region"] == region


@pytest.mark.parametrize("config", [
    {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "UK"},
    {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "EU"},
    {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "US"},
    {"status": "IN_COUNTRY_STORAGE_ENABLED"},
    {"status": "SOMETHING_ELSE"},
    {},
    "BR",
])
def test_invalid_storage_configuration_is_400_100(emulator, emulator_api, config):
    error_of(emulator_api.post(f"/{UNREGISTERED}/settings", json={"storage_configuration": config}), 400, 100)
    assert emulator.number(UNREGISTERED)["settings"]["storage_configuration"] == {"status": "DEFAULT"}


def test_empty_settings_post_is_400_100(emulator_api):
    error_of(emulator_api.post(f"/{UNREGISTERED}/settings", json={}), 400, 100)


def test_settings_on_registered_number_is_400_100(emulator, emulator_api):
    err = error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/settings", json=ENABLE_BR), 400, 100)
    assert err["message"] == "(#100) Local storage can only be enabled or disabled on unregistered phone numbers"
    assert storage(emulator_api, REGISTERED_DEFAULT) == {"status": "DEFAULT"}
    error_of(emulator_api.post(f"/{REGISTERED_BR}/settings", json=DISABLE), 400, 100)
    assert storage(emulator_api, REGISTERED_BR)["data_localization_region"] == "BR"


def test_settings_post_keeps_other_sub_objects(emulator, emulator_api):
    emulator.patch(REGISTERED_DEFAULT, platform_type="NOT_APPLICABLE", status="DISCONNECTED")
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/settings", json=ENABLE_BR).status_code == 200
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json() == {
        "storage_configuration": ENABLE_BR["storage_configuration"], "calling": {"status": "ENABLED"}}


def test_settings_post_updates_only_the_sub_objects_it_names(emulator, emulator_api):
    emulator.patch(REGISTERED_DEFAULT, settings={"storage_configuration": {"status": "DEFAULT"},
                                                 "calling": {"status": "ENABLED", "call_icon_visibility": "DEFAULT"},
                                                 "payload_encryption": {"status": "ENABLED"}})
    # other sub-objects may be changed while registered; storage is untouched
    resp = emulator_api.post(f"/{REGISTERED_DEFAULT}/settings", json={"calling": {"status": "DISABLED"}})
    assert resp.status_code == 200
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json() == {
        "storage_configuration": {"status": "DEFAULT"},
        "calling": {"status": "DISABLED", "call_icon_visibility": "DEFAULT"},
        "payload_encryption": {"status": "ENABLED"}}


def test_settings_post_accepts_form_encoded_json(emulator_api):
    resp = emulator_api.post(f"/{UNREGISTERED}/settings",
                             data={"storage_configuration": json.dumps(ENABLE_BR["storage_configuration"])})
    assert resp.status_code == 200, resp.text
    assert storage(emulator_api, UNREGISTERED)["data_localization_region"] == "BR"


def test_invalid_json_body_is_400_100(emulator_api):
    resp = emulator_api.post(f"/{UNREGISTERED}/settings", data="{not json",
                             headers={"Content-Type": "application/json"})
    error_of(resp, 400, 100)


# -- versions --------------------------------------------------------------------------------

RETIREMENT_OF_V21 = datetime.datetime(2027, 1, 21, tzinfo=datetime.timezone.utc).timestamp()


def served_as(resp) -> str:
    return resp.headers["facebook-api-version"]


@pytest.mark.parametrize("version", ["v17.0", "v19.0", "v20.0"])
def test_retired_versions_are_served_as_the_oldest_live_one(emulator, emulator_api, version):
    today = datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc).date()
    resp = emulator_api.post(f"/{UNREGISTERED}/settings", json=ENABLE_BR, version=version)
    assert resp.status_code == 200, resp.text  # the /settings flow: a retired path runs v21.0+
    assert served_as(resp) == versions.oldest_live(today) != version
    assert storage(emulator_api, UNREGISTERED)["data_localization_region"] == "BR"
    (call, _read) = emulator.calls()
    assert (call["version"], call["served_version"]) == (version, served_as(resp))


@pytest.mark.parametrize("version", ["v17.0", "v20.0"])
def test_a_retired_version_is_served_as_v21_until_2027_01_21_then_as_v22(emulator, emulator_api, version):
    if emulator.now() < RETIREMENT_OF_V21 - 60:  # the clock only moves forward: true until that day
        emulator.advance(RETIREMENT_OF_V21 - 60 - emulator.now())
        assert served_as(emulator_api.get(f"/{REGISTERED_DEFAULT}", version=version)) == "v21.0"
        assert served_as(emulator_api.get(f"/{REGISTERED_DEFAULT}", version="v21.0")) == "v21.0"
    emulator.advance(max(0.0, RETIREMENT_OF_V21 + 1 - emulator.now()))
    # v22.0 until it retires too (2027-05-20): the clock only moves forward, so on a later day the
    # oldest live version is a newer one, and that is what Meta serves
    oldest = versions.oldest_live(datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc).date())
    assert versions.parse(oldest) >= (22, 0)
    assert served_as(emulator_api.get(f"/{REGISTERED_DEFAULT}", version=version)) == oldest
    assert served_as(emulator_api.get(f"/{REGISTERED_DEFAULT}", version="v21.0")) == oldest
    assert served_as(emulator_api.get(f"/{REGISTERED_DEFAULT}", version="v27.0")) == "v27.0"


@pytest.mark.parametrize("version", ["v17.0", "v20.0", "v21.0", "v25.0", "v27.0", ""])
def test_register_with_a_region_is_refused_with_code_12_on_every_served_version(emulator, emulator_api, version):
    body = {**REGISTER, "data_localization_region": "in"}
    err = error_of(emulator_api.post(f"/{UNREGISTERED}/register", json=body, version=version), 400, 12)
    assert err["message"] == "(#12) Deprecated for versions v21.0 or higher"
    assert err["type"] == "OAuthException"
    rec = emulator.number(UNREGISTERED)
    assert rec["platform_type"] == "NOT_APPLICABLE" and rec["pin"] is None
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}
    assert rec["registration_calls"] == [], "a refused parameter spends none of the 72-hour budget"


def test_a_two_call_cutover_on_v25_leaves_the_number_as_the_deregister_left_it(emulator, emulator_api):
    assert emulator_api.post(f"/{REGISTERED_BR}/deregister", version="v25.0").json() == {"success": True}
    body = {**REGISTER, "data_localization_region": "IN"}
    error_of(emulator_api.post(f"/{REGISTERED_BR}/register", json=body, version="v25.0"), 400, 12)
    rec = emulator.number(REGISTERED_BR)
    assert rec["platform_type"] == "NOT_APPLICABLE" and rec["status"] == "DISCONNECTED"
    assert rec["settings"]["storage_configuration"] == {"status": "DEFAULT"}
    assert len(rec["registration_calls"]) == 1  # the deregister's


@pytest.fixture
def guide_emulator(make_emulator_http):
    """An emulator started with --register-accepts-region, as Meta's HTML guide describes register."""
    from emulator.harness import start_emulator
    with start_emulator(register_accepts_region=True) as emu:
        yield emu, make_emulator_http(emu)


@pytest.mark.parametrize("version", ["v20.0", "v25.0", ""])
def test_with_the_guides_flag_register_with_a_region_enables_storage(guide_emulator, version):
    emu, api = guide_emulator
    body = {**REGISTER, "data_localization_region": "in"}
    assert api.post(f"/{UNREGISTERED}/register", json=body, version=version).json() == {"success": True}
    assert storage(api, UNREGISTERED) == {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}
    assert emu.number(UNREGISTERED)["platform_type"] == "CLOUD_API"


def test_with_the_guides_flag_another_region_on_a_registered_number_is_400_100(guide_emulator):
    emu, api = guide_emulator
    body = {**REGISTER, "data_localization_region": "IN"}
    err = error_of(api.post(f"/{REGISTERED_BR}/register", json=body), 400, 100)
    assert "unregistered" in err["message"]
    assert storage(api, REGISTERED_BR)["data_localization_region"] == "BR"
    # the region it already has is fine: re-registering changes nothing
    same = {**REGISTER, "data_localization_region": "BR"}
    assert api.post(f"/{REGISTERED_BR}/register", json=same).status_code == 200


@pytest.mark.parametrize("number, region", [(COEXISTENCE, "GB"), (UNREGISTERED, "UK")])
def test_with_the_guides_flag_a_region_on_a_business_app_number_or_an_unknown_region_is_400_100(
        guide_emulator, number, region):
    emu, api = guide_emulator
    before = emu.number(number)["platform_type"]
    error_of(api.post(f"/{number}/register", json={**REGISTER, "data_localization_region": region}), 400, 100)
    assert emu.number(number)["platform_type"] == before


@pytest.mark.parametrize("version", ["v20.0", "v25.0"])
def test_register_without_a_region_never_changes_storage(emulator_api, version):
    assert emulator_api.post(f"/{REGISTERED_BR}/register", json=REGISTER, version=version).status_code == 200
    assert storage(emulator_api, REGISTERED_BR)["data_localization_region"] == "BR"
    assert emulator_api.post(f"/{NO_STORAGE}/register", json=REGISTER, version=version).status_code == 200
    assert storage(emulator_api, NO_STORAGE)["status"] == "NO_STORAGE_ENABLED"


# -- register --------------------------------------------------------------------------------

def test_register_unregistered_number(emulator, emulator_api):
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER).json() == {"success": True}
    got = emulator_api.get(f"/{UNREGISTERED}", params={"fields": "platform_type,status"}).json()
    assert got["platform_type"] == "CLOUD_API" and got["status"] == "CONNECTED"


def test_re_register_succeeds(emulator_api):
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 200


def test_register_accepts_form_and_query_parameters(emulator, emulator_api):
    assert emulator_api.post(f"/{UNREGISTERED}/register", data=REGISTER).status_code == 200
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", params=REGISTER).status_code == 200


@pytest.mark.parametrize("body", [
    {"messaging_product": "whatsapp"},
    {"messaging_product": "whatsapp", "pin": "12345"},
    {"messaging_product": "whatsapp", "pin": "1234567"},
    {"messaging_product": "whatsapp", "pin": "12a456"},
    {"pin": DEMO_PIN},
    {"messaging_product": "sms", "pin": DEMO_PIN},
])
def test_register_parameter_errors_are_400_100(emulator, emulator_api, body):
    error_of(emulator_api.post(f"/{UNREGISTERED}/register", json=body), 400, 100)
    assert emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"


def test_register_unverified_number_is_133006(emulator, emulator_api):
    err = error_of(emulator_api.post(f"/{NOT_VERIFIED}/register", json=REGISTER), 400, 133006)
    assert err["error_data"]["details"]
    assert emulator.number(NOT_VERIFIED)["platform_type"] == "NOT_APPLICABLE"


def test_number_without_pin_takes_the_pin_sent(emulator, emulator_api):
    assert emulator.number(UNREGISTERED)["pin"] is None
    assert emulator_api.post(f"/{UNREGISTERED}/register", json={**REGISTER, "pin": "654321"}).status_code == 200
    assert emulator.pin_matches(UNREGISTERED, "654321")
    assert emulator_api.get(f"/{UNREGISTERED}", params={"fields": "is_pin_enabled"}).json()["is_pin_enabled"]
    # from now on that PIN is required
    error_of(emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER), 400, 133005)


def test_wrong_pin_is_133005_then_133008_lockout(emulator, emulator_api):
    wrong = {**REGISTER, "pin": "000000"}
    for attempt in range(4):
        err = error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=wrong), 400, 133005)
        assert err["error_data"]["details"] == "Two-step verification PIN incorrect."
    # the fifth consecutive wrong guess locks the PIN
    err = error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=wrong), 400, 133008)
    assert "wait" in err["error_data"]["details"].lower()
    # even the right PIN is refused until the lockout passes on the emulator clock
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER), 400, 133008)
    emulator.advance(30 * 60)
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER), 400, 133008)
    emulator.advance(31 * 60)
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 200
    assert emulator.number(REGISTERED_DEFAULT)["failed_pin_attempts"] == 0


def test_right_pin_resets_the_wrong_guess_count(emulator, emulator_api):
    wrong = {**REGISTER, "pin": "000000"}
    for _ in range(4):
        error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=wrong), 400, 133005)
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER).status_code == 200
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json=wrong), 400, 133005)


def test_wrong_pin_leaves_an_unregistered_number_unregistered(emulator, emulator_api):
    emulator.patch(UNREGISTERED, pin="111111")
    error_of(emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER), 400, 133005)
    assert emulator.number(UNREGISTERED)["platform_type"] == "NOT_APPLICABLE"


# -- deregister ------------------------------------------------------------------------------

def test_deregister_unregistered_is_133010(emulator_api):
    error_of(emulator_api.post(f"/{UNREGISTERED}/deregister"), 400, 133010)


def test_deregister_clears_local_storage(emulator, emulator_api):
    resp = emulator_api.post(f"/{REGISTERED_BR}/deregister")
    assert resp.status_code == 200 and resp.json() == {"success": True}
    got = emulator_api.get(f"/{REGISTERED_BR}", params={"fields": "platform_type,status"}).json()
    assert got["platform_type"] == "NOT_APPLICABLE" and got["status"] == "DISCONNECTED"
    assert storage(emulator_api, REGISTERED_BR) == {"status": "DEFAULT"}


def test_deregister_keeps_local_storage_with_the_flag(emulator_keeps_storage, make_emulator_http):
    api = make_emulator_http(emulator_keeps_storage)
    assert api.post(f"/{REGISTERED_BR}/deregister").status_code == 200
    assert emulator_keeps_storage.number(REGISTERED_BR)["platform_type"] == "NOT_APPLICABLE"
    assert storage(api, REGISTERED_BR) == {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}


def test_deregister_leaves_no_storage_alone(emulator_api):
    assert emulator_api.post(f"/{NO_STORAGE}/deregister").status_code == 200
    assert storage(emulator_api, NO_STORAGE) == {"status": "NO_STORAGE_ENABLED", "retention_minutes": 60}


def test_deregister_keeps_other_settings(emulator_api):
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/deregister").status_code == 200
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}/settings").json()["calling"] == {"status": "ENABLED"}


def test_coexistence_number_cannot_be_deregistered(emulator, emulator_api):
    err = error_of(emulator_api.post(f"/{COEXISTENCE}/deregister"), 400, 100)
    assert "WhatsApp Business app" in err["message"]
    assert emulator.number(COEXISTENCE)["platform_type"] == "CLOUD_API"


def test_full_v21_cutover(emulator, emulator_api):
    """deregister -> settings -> register moves a registered number to a new region."""
    id_ = REGISTERED_BR
    assert emulator_api.post(f"/{id_}/deregister").status_code == 200
    body = {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}}
    assert emulator_api.post(f"/{id_}/settings", json=body).status_code == 200
    assert emulator_api.post(f"/{id_}/register", json=REGISTER).status_code == 200
    assert storage(emulator_api, id_) == body["storage_configuration"]
    assert emulator.number(id_)["platform_type"] == "CLOUD_API"
    assert len(emulator.number(id_)["registration_calls"]) == 2


# -- 72-hour budget --------------------------------------------------------------------------

def _reregister(api):
    return api.post(f"/{REGISTERED_DEFAULT}/register", json=REGISTER)


def test_budget_eleventh_call_is_133016_and_blocks_72h(emulator, emulator_api):
    for i in range(5):
        assert emulator_api.post(f"/{REGISTERED_DEFAULT}/deregister").status_code == 200
        assert _reregister(emulator_api).status_code == 200
    err = error_of(_reregister(emulator_api), 400, 133016)
    assert err["error_data"]["details"]
    rec = emulator.number(REGISTERED_DEFAULT)
    assert len(rec["registration_calls"]) == 10
    assert rec["blocked_until"] == pytest.approx(emulator.now() + 72 * 3600, abs=5)
    # deregister is blocked as well, and the number stays registered
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/deregister"), 400, 133016)
    assert emulator.number(REGISTERED_DEFAULT)["platform_type"] == "CLOUD_API"
    emulator.advance(71 * 3600)
    error_of(_reregister(emulator_api), 400, 133016)
    emulator.advance(1 * 3600 + 1)
    assert _reregister(emulator_api).status_code == 200


def test_budget_is_a_moving_window(emulator, emulator_api):
    for _ in range(6):
        assert _reregister(emulator_api).status_code == 200
    emulator.advance(40 * 3600)
    for _ in range(4):
        assert _reregister(emulator_api).status_code == 200
    error_of(_reregister(emulator_api), 400, 133016)

    emulator.reset()
    for _ in range(6):
        assert _reregister(emulator_api).status_code == 200
    emulator.advance(40 * 3600)
    for _ in range(4):
        assert _reregister(emulator_api).status_code == 200
    emulator.advance(33 * 3600)  # the first six left the window; four remain
    for _ in range(6):
        assert _reregister(emulator_api).status_code == 200
    error_of(_reregister(emulator_api), 400, 133016)


def test_failed_register_calls_count_toward_the_budget(emulator, emulator_api):
    for _ in range(10):
        error_of(emulator_api.post(f"/{NOT_VERIFIED}/register", json=REGISTER), 400, 133006)
    error_of(emulator_api.post(f"/{NOT_VERIFIED}/register", json=REGISTER), 400, 133016)
    # an unknown number is refused before the budget (100/33)
    error_of(emulator_api.post("/1/register", json=REGISTER), 400, 100)


def test_budget_is_per_number(emulator, emulator_api):
    emulator.patch(REGISTERED_DEFAULT, registration_calls=[emulator.now() - 60] * 10)
    error_of(_reregister(emulator_api), 400, 133016)
    assert emulator_api.post(f"/{REGISTERED_BR}/register", json=REGISTER).status_code == 200


# -- verification and PIN --------------------------------------------------------------------

def test_request_and_verify_code(emulator, emulator_api):
    resp = emulator_api.post(f"/{NOT_VERIFIED}/request_code", params={"code_method": "SMS", "language": "en_US"})
    assert resp.status_code == 200 and resp.json() == {"success": True}
    code = emulator.number(NOT_VERIFIED)["verification_code"]
    assert code and len(code) == 6 and code.isdigit()
    wrong = "000000" if code != "000000" else "111111"
    err = error_of(emulator_api.post(f"/{NOT_VERIFIED}/verify_code", params={"code": wrong}), 400, 100)
    assert "incorrect" in err["message"]
    assert emulator.number(NOT_VERIFIED)["code_verification_status"] == "NOT_VERIFIED"
    assert emulator_api.post(f"/{NOT_VERIFIED}/verify_code", params={"code": code}).json() == {"success": True}
    got = emulator_api.get(f"/{NOT_VERIFIED}", params={"fields": "code_verification_status"}).json()
    assert got["code_verification_status"] == "VERIFIED"
    assert emulator_api.post(f"/{NOT_VERIFIED}/register", json=REGISTER).status_code == 200


def test_request_code_by_voice(emulator, emulator_api):
    resp = emulator_api.post(f"/{NOT_VERIFIED}/request_code", params={"code_method": "VOICE", "language": "de_DE"})
    assert resp.status_code == 200
    assert emulator.number(NOT_VERIFIED)["verification_code"]


def test_request_code_on_verified_number_is_136024(emulator_api):
    params = {"code_method": "SMS", "language": "en_US"}
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/request_code", params=params), 400, 136024)


@pytest.mark.parametrize("params", [{"code_method": "FAX", "language": "en_US"}, {"language": "en_US"},
                                    {"code_method": "SMS"}])
def test_request_code_parameter_errors(emulator_api, params):
    error_of(emulator_api.post(f"/{NOT_VERIFIED}/request_code", params=params), 400, 100)


def test_verify_code_without_request_is_400_100(emulator_api):
    error_of(emulator_api.post(f"/{NOT_VERIFIED}/verify_code", params={"code": "123456"}), 400, 100)
    error_of(emulator_api.post(f"/{NOT_VERIFIED}/verify_code"), 400, 100)


def test_set_pin(emulator, emulator_api):
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}", json={"pin": "246810"}).json() == {"success": True}
    assert emulator.pin_matches(REGISTERED_DEFAULT, "246810")
    error_of(_reregister(emulator_api), 400, 133005)
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/register", json={**REGISTER, "pin": "246810"}).status_code == 200


@pytest.mark.parametrize("body", [{"pin": "12345"}, {"pin": "abcdef"}, {}, {"pin": "123456", "colour": "red"}])
def test_set_pin_invalid_is_400_100(emulator, emulator_api, body):
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}", json=body), 400, 100)
    assert emulator.pin_matches(REGISTERED_DEFAULT, DEMO_PIN)


# -- business account listing ----------------------------------------------------------------

def test_waba_listing_pages_with_access_token_in_next(emulator, emulator_api, make_emulator_http):
    emulator.set_page_size(2)
    first = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"fields": "id"})
    assert first.status_code == 200
    page = first.json()
    assert len(page["data"]) == 2
    assert set(page["paging"]["cursors"]) == {"before", "after"}
    ids = [n["id"] for n in page["data"]]
    assert f"access_token={emulator.token}" in page["paging"]["next"]
    assert page["paging"]["next"].startswith(emulator.url + "/v21.0/")
    # follow `next` the way a careful client does: strip the token, keep the header
    bare = make_emulator_http(emulator, token="")
    nxt = page["paging"]["next"]
    while nxt:
        parts = urllib.parse.urlsplit(nxt)
        query = {k: v for k, v in urllib.parse.parse_qsl(parts.query) if k != "access_token"}
        resp = emulator_api.session.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query)
        assert resp.status_code == 200
        page = resp.json()
        ids += [n["id"] for n in page["data"]]
        nxt = page.get("paging", {}).get("next")
        # the next URL alone authenticates, as Meta's does
        if nxt:
            assert bare.session.get(nxt).status_code == 200
    assert ids == sorted((n["id"] for n in emulator.numbers()), reverse=True)  # newest onboarded first
    assert len(ids) == 6


def test_waba_listing_limit_fields_and_last_page(emulator_api):
    page = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers",
                            params={"fields": "id,platform_type", "limit": 10}).json()
    assert len(page["data"]) == 6 and "next" not in page["paging"]
    assert all(set(n) == {"id", "platform_type"} for n in page["data"])
    error_of(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"limit": "x"}), 400, 100)
    error_of(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"fields": "id,bogus"}), 400, 100)


def test_waba_listing_uses_the_callers_token(make_emulator_http):
    from emulator.harness import start_emulator
    with start_emulator(tokens=("alpha", "beta"), page_size=2) as emu:
        page = make_emulator_http(emu, token="beta").get(f"/{DEMO_WABA_ID}/phone_numbers").json()
        assert "access_token=beta" in page["paging"]["next"]


def test_empty_waba_lists_nothing(emulator, emulator_api):
    for n in emulator.numbers():
        emulator.delete_number(n["id"])
    assert emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json() == {"data": []}


def test_unknown_waba_is_100_33(emulator_api):
    err = error_of(emulator_api.get("/123/phone_numbers"), 400, 100)
    assert err["error_subcode"] == 33


# -- the seed guide, translated --------------------------------------------------------------

def test_seed_guide_examples(emulator, make_emulator_http):
    """The curl examples of Meta's Local Storage guide (seeds/), base URL changed, demo IDs."""
    headers = {"Authorization": "Bearer " + emulator.token, "Content-Type": "application/json"}
    s = make_emulator_http(emulator, token="").session
    base = emulator.url

    # v21.0+: enable BR on an unregistered number, then register it
    resp = s.post(f"{base}/v21.0/{UNREGISTERED}/settings", headers=headers, data="""
{
  "storage_configuration": {
    "status": "IN_COUNTRY_STORAGE_ENABLED",
    "data_localization_region": "BR"
  }
}""")
    assert resp.json() == {"success": True}
    resp = s.post(f"{base}/v21.0/{UNREGISTERED}/register", headers=headers, data="""
{
  "messaging_product": "whatsapp",
  "pin": "123456"
}""")
    assert resp.json() == {"success": True}

    # get the local storage settings
    resp = s.get(f"{base}/v21.0/{UNREGISTERED}/settings", headers={"Authorization": headers["Authorization"]})
    assert resp.json() == {"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                     "data_localization_region": "BR"}}

    # disable (the guide does it on an unregistered number)
    assert s.post(f"{base}/v21.0/{UNREGISTERED}/deregister",
                  headers={"Authorization": headers["Authorization"]}).json() == {"success": True}
    resp = s.post(f"{base}/v21.0/{UNREGISTERED}/settings", headers=headers, data="""
{
  "storage_configuration": {
    "status": "IN_COUNTRY_STORAGE_DISABLED"
  }
}""")
    assert resp.json() == {"success": True}
    assert storage(make_emulator_http(emulator), UNREGISTERED) == {"status": "DEFAULT"}

    # the v20 page: check verification, request and verify a code, register with a region. v19.0
    # is retired and served as a v21.0+ version, which refuses the region (code 12) and changes
    # nothing; the same register without it succeeds
    auth = {"Authorization": headers["Authorization"]}
    resp = s.get(f"{base}/v19.0/{NOT_VERIFIED}?fields=code_verification_status", headers=auth)
    assert resp.json()["code_verification_status"] == "NOT_VERIFIED"
    resp = s.post(f"{base}/v19.0/{NOT_VERIFIED}/request_code?code_method=SMS&language=en_US", headers=auth)
    assert resp.json() == {"success": True}
    code = emulator.number(NOT_VERIFIED)["verification_code"]
    assert s.post(f"{base}/v19.0/{NOT_VERIFIED}/verify_code?code={code}", headers=auth).json() == {"success": True}
    resp = s.post(f"{base}/v19.0/{NOT_VERIFIED}/register", headers=headers, data="""
{
  "messaging_product": "whatsapp",
  "pin": "123456",
  "data_localization_region": "IN"
}""")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 12
    assert emulator.number(NOT_VERIFIED)["platform_type"] == "NOT_APPLICABLE"
    resp = s.post(f"{base}/v20.0/{NOT_VERIFIED}/register", headers=headers,
                  data='{"messaging_product": "whatsapp", "pin": "123456"}')
    assert resp.json() == {"success": True}
    assert storage(make_emulator_http(emulator), NOT_VERIFIED) == {"status": "DEFAULT"}

    # deregister leaves default storage
    assert s.post(f"{base}/v19.0/{NOT_VERIFIED}/deregister", headers=auth).json() == {"success": True}
    assert storage(make_emulator_http(emulator), NOT_VERIFIED) == {"status": "DEFAULT"}

    # the guide's typo'd URL (/v21.0/v21.0/register) fails like a missing object would
    resp = s.post(f"{base}/v21.0/v21.0/register", headers=headers, data=json.dumps(REGISTER))
    assert resp.status_code == 400 and resp.json()["error"]["error_subcode"] == 33


def test_graph_wide_parameters_are_ignored_by_endpoints(emulator, emulator_api):
    params = {"appsecret_proof": "abc", "pretty": "0"}
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}", json={"pin": "135790"}, params=params).status_code == 200
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=ENABLE_BR, params=params).status_code == 200
    assert emulator_api.post(f"/{UNREGISTERED}/register", json=REGISTER, params=params).status_code == 200


def test_unversioned_path_uses_the_current_version(emulator, emulator_api):
    resp = emulator_api.get(f"/{REGISTERED_DEFAULT}", version="")
    today = datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc).date()
    assert resp.status_code == 200 and served_as(resp) == versions.served("v25.0", today)
