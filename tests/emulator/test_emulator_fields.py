"""The phone number node's fields: every field of Meta's list is served, on the node and in the
business account listing; unknown fields get Meta's error; the control API can make a field
"nonexisting" to rehearse Meta dropping one."""

from __future__ import annotations

import pytest

from emulator.harness import EmulatorControlError
from emulator.seed import (COEXISTENCE, DEMO_IDS, DEMO_WABA_ID, NO_STORAGE, NOT_VERIFIED,
                           REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED)

# Meta's reference list for the WhatsApp Business phone number node (v23-v25), written out here
# rather than imported, so that a field dropped from the emulator fails this test.
META_FIELDS = (
    "id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
    "quality_score", "platform_type", "throughput", "status", "name_status", "new_name_status",
    "account_mode", "is_official_business_account", "is_on_biz_app", "is_pin_enabled",
    "is_preverified_number", "messaging_limit_tier", "whatsapp_business_manager_messaging_limit",
    "conversational_automation", "webhook_configuration", "health_status", "search_visibility",
    "eligibility_for_api_business_global_search", "certificate", "new_certificate",
    "last_onboarded_time", "host_platform", "country_code", "country_dial_code",
)
ALL = ",".join(META_FIELDS)
COUNTRIES = {REGISTERED_DEFAULT: ("US", "1"), REGISTERED_BR: ("BR", "55"), UNREGISTERED: ("IN", "91"),
             NOT_VERIFIED: ("DE", "49"), COEXISTENCE: ("GB", "44"), NO_STORAGE: ("SG", "65")}


def nonexisting(resp, name):
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == 100 and err["type"] == "OAuthException"
    assert err["message"] == (f"(#100) Tried accessing nonexisting field ({name}) on node type "
                              "(WhatsAppBusinessPhoneNumber)")


@pytest.mark.parametrize("number", DEMO_IDS)
def test_the_node_serves_every_field_for_every_demo_number(emulator_api, number):
    got = emulator_api.get(f"/{number}", params={"fields": ALL}).json()
    assert list(got) == list(META_FIELDS)
    assert all(value is not None and value != "" for value in got.values()), got
    assert (got["country_code"], got["country_dial_code"]) == COUNTRIES[number]


def test_the_listing_serves_every_field_too(emulator_api):
    page = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"fields": ALL, "limit": 10}).json()
    assert sorted(n["id"] for n in page["data"]) == sorted(DEMO_IDS)
    for number in page["data"]:
        assert list(number) == list(META_FIELDS)
        assert number == emulator_api.get(f"/{number['id']}", params={"fields": ALL}).json()


def test_a_registered_number_has_plausible_values(emulator_api):
    got = emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": ALL}).json()
    assert got["quality_rating"] == "GREEN" and got["quality_score"] == {"score": "GREEN"}
    assert got["throughput"] == {"level": "STANDARD"}
    assert got["name_status"] == "APPROVED" and got["account_mode"] == "LIVE"
    assert got["messaging_limit_tier"].startswith("TIER_")
    assert got["whatsapp_business_manager_messaging_limit"].startswith("TIER_")
    assert got["health_status"]["can_send_message"] == "AVAILABLE"
    assert got["search_visibility"] == "VISIBLE" and got["host_platform"] == "CLOUD_API"
    assert got["conversational_automation"]["id"] == REGISTERED_DEFAULT
    assert got["is_official_business_account"] is False and got["is_preverified_number"] is False
    assert got["last_onboarded_time"].endswith("+0000")


def test_derived_fields_follow_the_numbers_state(emulator, emulator_api):
    new = emulator_api.get(f"/{NOT_VERIFIED}", params={"fields": ALL}).json()
    assert new["quality_rating"] == "UNKNOWN" and new["name_status"] == "PENDING_REVIEW"
    assert new["health_status"]["can_send_message"] == "BLOCKED"
    assert new["throughput"] == {"level": "NOT_APPLICABLE"}
    assert emulator_api.post(f"/{REGISTERED_BR}/deregister").status_code == 200
    after = emulator_api.get(f"/{REGISTERED_BR}", params={"fields": "health_status,host_platform"}).json()
    assert after["health_status"]["can_send_message"] == "BLOCKED"
    assert after["host_platform"] == "NOT_APPLICABLE"
    emulator.patch(UNREGISTERED, display_phone_number="+971 4 555 0102")
    got = emulator_api.get(f"/{UNREGISTERED}", params={"fields": "country_code,country_dial_code"}).json()
    assert (got["country_code"], got["country_dial_code"]) == ("AE", "971")


def test_a_display_number_with_an_unknown_country_omits_the_country_fields(emulator, emulator_api):
    emulator.add_number(id="200000000000009", display_phone_number="+999 555 0100")
    got = emulator_api.get("/200000000000009", params={"fields": "country_code,country_dial_code"}).json()
    assert got == {"id": "200000000000009"}


@pytest.mark.parametrize("name", ["messaging_product", "username", "pin", "settings", "ID"])
def test_an_unknown_field_gets_metas_error(emulator_api, name):
    nonexisting(emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": f"id,{name}"}), name)
    nonexisting(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"fields": name}), name)


def test_rejected_fields_become_nonexisting_until_cleared_or_reset(emulator, emulator_api):
    emulator.reject_fields(["is_pin_enabled", "health_status"])
    for name in ("is_pin_enabled", "health_status"):
        nonexisting(emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": f"platform_type,{name}"}), name)
        nonexisting(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"fields": name}), name)
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": "platform_type"}).json() == {
        "id": REGISTERED_DEFAULT, "platform_type": "CLOUD_API"}
    assert emulator._control("GET", "/fields") == {"rejected": ["health_status", "is_pin_enabled"]}
    emulator.reject_fields([])
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": "is_pin_enabled"}).status_code == 200
    emulator.reject_fields(["is_pin_enabled"])
    emulator.reset()
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}", params={"fields": "is_pin_enabled"}).status_code == 200
    assert emulator._control("GET", "/fields") == {"rejected": []}


def test_a_rejected_default_field_is_left_out_of_the_default_answer(emulator, emulator_api):
    emulator.reject_fields(["verified_name"])
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").json() == {
        "id": REGISTERED_DEFAULT, "display_phone_number": "+1 555-0100", "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED"}


@pytest.mark.parametrize("names, message", [
    (["colour"], "colour"), (["id"], "id cannot be rejected"), ("is_pin_enabled", "list"), ([1], "list")])
def test_reject_fields_names_the_problem(emulator, names, message):
    with pytest.raises(EmulatorControlError, match=message):
        emulator.reject_fields(names) if isinstance(names, list) else emulator._control(
            "POST", "/fields", {"reject": names})
    with pytest.raises(EmulatorControlError, match="400"):
        emulator._control("POST", "/fields", {"rejected": ["is_pin_enabled"]})
