"""Graph API fidelity, round 2 (issue 19): what Meta's current pages say, over real HTTP.

Listings default to 25 per page, the time-based appsecret proof, 131031, No Storage's only
retention, the business profile edge, and subcode 33 on a missing object.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from emulator.seed import DEMO_IDS, DEMO_PIN, DEMO_WABA_ID, REGISTERED_DEFAULT, UNREGISTERED

REGISTER = {"messaging_product": "whatsapp", "pin": DEMO_PIN}
SECRET = "fidelity-app-secret"


def error_of(resp, status: int, code: int) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    return err


# -- listing page size -----------------------------------------------------------------------

def test_a_listing_without_limit_pages_25_by_default(emulator, emulator_api):
    page = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()
    assert [n["id"] for n in page["data"]] == sorted(DEMO_IDS, reverse=True)  # six, newest first, one page
    assert "next" not in page["paging"]
    for i in range(20):
        emulator.add_number(id=str(500000000000000 + i))
    page = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()
    assert len(page["data"]) == 25 and "next" in page["paging"]


def test_page_size_is_a_control_knob_that_reset_restores(emulator, emulator_api):
    emulator.set_page_size(2)
    assert len(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()["data"]) == 2
    assert len(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers", params={"limit": 4}).json()["data"]) == 4
    emulator.reset()
    assert len(emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()["data"]) == 6


@pytest.mark.parametrize("size", [0, 101, 2.5, "2", True, None])
def test_a_bad_page_size_is_refused(emulator, size):
    from emulator.harness import EmulatorControlError
    with pytest.raises(EmulatorControlError, match="page size"):
        emulator.set_page_size(size)


def test_the_page_size_option_reaches_a_subprocess_emulator(make_emulator_http):
    from emulator.harness import start_emulator
    with start_emulator(subprocess=True, page_size=3) as emu:
        page = make_emulator_http(emu).get(f"/{DEMO_WABA_ID}/phone_numbers").json()
        assert len(page["data"]) == 3 and "next" in page["paging"]


# -- time-based appsecret proof --------------------------------------------------------------

def _timed_proof(token: str, when: int) -> str:
    return hmac.new(SECRET.encode(), f"{token}|{when}".encode(), hashlib.sha256).hexdigest()


def test_a_time_based_appsecret_proof_is_accepted(emulator, make_emulator_http):
    emulator.set_app_secret(SECRET)
    http = make_emulator_http(emulator)
    now = int(emulator.now())
    ok = http.get(f"/{REGISTERED_DEFAULT}",
                  params={"appsecret_proof": _timed_proof(emulator.token, now), "appsecret_time": now})
    assert ok.status_code == 200, ok.text
    # the plain proof still works; the timed proof without its time, or with another time, does not
    plain = hmac.new(SECRET.encode(), emulator.token.encode(), hashlib.sha256).hexdigest()
    assert http.get(f"/{REGISTERED_DEFAULT}", params={"appsecret_proof": plain}).status_code == 200
    error_of(http.get(f"/{REGISTERED_DEFAULT}", params={"appsecret_proof": _timed_proof(emulator.token, now)}),
             400, 100)
    error_of(http.get(f"/{REGISTERED_DEFAULT}", params={"appsecret_proof": _timed_proof(emulator.token, now),
                                                          "appsecret_time": now + 1}), 400, 100)


@pytest.mark.parametrize("offset", [-3600, 3600])
def test_a_time_based_proof_far_from_the_clock_is_refused(emulator, make_emulator_http, offset):
    emulator.set_app_secret(SECRET)
    when = int(emulator.now()) + offset
    resp = make_emulator_http(emulator).get(
        f"/{REGISTERED_DEFAULT}", params={"appsecret_proof": _timed_proof(emulator.token, when),
                                          "appsecret_time": when})
    assert "Invalid appsecret_proof" in error_of(resp, 400, 100)["message"]


def test_appsecret_time_must_be_ascii_digits(emulator, make_emulator_http):
    emulator.set_app_secret(SECRET)
    now = int(emulator.now())
    arabic = "".join(chr(0x0660 + int(d)) for d in str(now))
    resp = make_emulator_http(emulator).get(
        f"/{REGISTERED_DEFAULT}", params={"appsecret_proof": _timed_proof(emulator.token, now),
                                          "appsecret_time": arabic})
    error_of(resp, 400, 100)


# -- 131031 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    ("POST", f"/{REGISTERED_DEFAULT}/register", {"json": REGISTER}),
    ("POST", f"/{REGISTERED_DEFAULT}/deregister", {}),
    ("POST", f"/{REGISTERED_DEFAULT}", {"json": {"pin": "246810"}}),
    ("POST", f"/{REGISTERED_DEFAULT}/settings", {"json": {"calling": {"status": "DISABLED"}}}),
])
def test_a_locked_account_refuses_changes_with_131031(emulator, emulator_api, call):
    emulator.patch(REGISTERED_DEFAULT, account_locked=True)
    method, path, kw = call
    err = error_of(emulator_api.request(method, path, **kw), 403, 131031)
    assert err["error_data"]["details"]
    rec = emulator.number(REGISTERED_DEFAULT)
    assert rec["platform_type"] == "CLOUD_API" and emulator.pin_matches(REGISTERED_DEFAULT, DEMO_PIN)
    assert emulator_api.get(f"/{REGISTERED_DEFAULT}").status_code == 200  # reads still work
    assert rec["registration_calls"] == [], "a refused call spends none of the 72-hour budget"


def test_a_pin_in_non_ascii_digits_is_refused_by_set_pin_and_register(emulator, emulator_api):
    """Meta's PIN is six ASCII digits: Arabic-Indic or full-width digits are not a PIN."""
    for pin in ("١٢٣٤٥٦", "１２３４５６"):
        error_of(emulator_api.post(f"/{UNREGISTERED}", json={"pin": pin}), 400, 100)
        body = {"messaging_product": "whatsapp", "pin": pin}
        error_of(emulator_api.post(f"/{UNREGISTERED}/register", json=body), 400, 100)
    assert emulator.number(UNREGISTERED)["platform_type"] != "CLOUD_API"


# -- No Storage --------------------------------------------------------------------------------

@pytest.mark.parametrize("minutes, ok", [(60, True), (30, False), (120, False), ("60", False)])
def test_no_storage_accepts_only_60_minutes(emulator, emulator_api, minutes, ok):
    body = {"storage_configuration": {"status": "NO_STORAGE_ENABLED", "retention_minutes": minutes}}
    resp = emulator_api.post(f"/{UNREGISTERED}/settings", json=body)
    if ok:
        assert resp.status_code == 200
        assert emulator.number(UNREGISTERED)["settings"]["storage_configuration"]["retention_minutes"] == 60
    else:
        assert "60" in error_of(resp, 400, 100)["message"]
        assert emulator.number(UNREGISTERED)["settings"]["storage_configuration"] == {"status": "DEFAULT"}


# -- business profile --------------------------------------------------------------------------

def test_business_profile_reads_the_fields_asked_for(emulator_api):
    every = emulator_api.get(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile").json()
    assert every == {"data": [{"about": "Acme customer support", "email": "support@example.com",
                               "websites": ["https://example.com/"], "vertical": "RETAIL",
                               "messaging_product": "whatsapp"}]}
    some = emulator_api.get(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile",
                            params={"fields": "about,vertical"}).json()
    assert some == {"data": [{"about": "Acme customer support", "vertical": "RETAIL",
                              "messaging_product": "whatsapp"}]}
    err = error_of(emulator_api.get(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile",
                                    params={"fields": "about,colour"}), 400, 100)
    assert "nonexisting field (colour)" in err["message"]


def test_business_profile_update_changes_only_the_fields_sent(emulator_api):
    body = {"messaging_product": "whatsapp", "about": "Open 9-5", "address": "1 Main St",
            "websites": ["https://a.example", "http://b.example"], "profile_picture_handle": "4::aW1n"}
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile", json=body).json() == {
        "success": True}
    (entry,) = emulator_api.get(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile").json()["data"]
    assert entry["about"] == "Open 9-5" and entry["address"] == "1 Main St"
    assert entry["vertical"] == "RETAIL" and entry["email"] == "support@example.com"
    assert entry["websites"] == ["https://a.example", "http://b.example"]
    assert entry["profile_picture_url"].startswith("https://")


@pytest.mark.parametrize("body", [
    {"about": "x"},                                            # no messaging_product
    {"messaging_product": "whatsapp"},                         # nothing to change
    {"messaging_product": "whatsapp", "about": "x" * 140},
    {"messaging_product": "whatsapp", "description": "x" * 513},
    {"messaging_product": "whatsapp", "email": "not-an-email"},
    {"messaging_product": "whatsapp", "websites": ["https://a", "https://b", "https://c"]},
    {"messaging_product": "whatsapp", "websites": ["ftp://a.example"]},
    {"messaging_product": "whatsapp", "vertical": "CASINO"},
    {"messaging_product": "whatsapp", "colour": "red"},
])
def test_business_profile_update_is_validated_and_changes_nothing(emulator, emulator_api, body):
    before = emulator.number(REGISTERED_DEFAULT)["business_profile"]
    error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile", json=body), 400, 100)
    assert emulator.number(REGISTERED_DEFAULT)["business_profile"] == before


# -- missing objects keep subcode 33 -----------------------------------------------------------

@pytest.mark.parametrize("method, path", [("GET", "/999999999999999"),
                                          ("POST", "/999999999999999/register"),
                                          ("GET", "/999999999999999/whatsapp_business_profile")])
def test_a_missing_object_carries_subcode_33(emulator_api, method, path):
    err = error_of(emulator_api.request(method, path, json=REGISTER if method == "POST" else None), 400, 100)
    assert err["error_subcode"] == 33 and err["type"] == "GraphMethodException"

