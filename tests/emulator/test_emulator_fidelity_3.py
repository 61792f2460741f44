"""Graph API fidelity, round 3 (issue 30): what Meta's OpenAPI spec and live answers add to its pages.

Register's region refused on v21.0+ (code 12) is in test_emulator_api.py with the other register
rules; here: business-profile verticals, listings (limit, sort, order, default fields), the second
settings body form and lower-case statuses, and a version newer than any released one.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
import requests

from emulator.harness import Emulator, start_emulator
from emulator.seed import (DEMO_IDS, DEMO_WABA_ID, REGISTERED_BR, REGISTERED_DEFAULT,
                           UNREGISTERED)
from provider import versions
from tests.conftest import EmulatorHTTP

WABA = "410000000000001"


def error_of(resp: requests.Response, status: int, code: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err: dict[str, Any] = resp.json()["error"]
    assert err["code"] == code, err
    return err


def profile(api: EmulatorHTTP, number: str, **params: str) -> dict[str, Any]:
    (entry,) = api.get(f"/{number}/whatsapp_business_profile", params=params).json()["data"]
    return dict(entry)


# -- business profile verticals ----------------------------------------------------------------

@pytest.mark.parametrize("vertical", ["ALCOHOL", "ONLINE_GAMBLING", "OTC_DRUGS", "PHYSICAL_GAMBLING", "RETAIL", ""])
def test_every_vertical_metas_reference_lists_is_accepted_the_empty_string_included(
        emulator_api: EmulatorHTTP, vertical: str) -> None:
    body = {"messaging_product": "whatsapp", "vertical": vertical}
    assert emulator_api.post(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile", json=body).json() == {"success": True}
    assert profile(emulator_api, REGISTERED_DEFAULT)["vertical"] == vertical


@pytest.mark.parametrize("vertical", ["UNDEFINED", "NOT_A_BIZ", "alcohol", "CASINO"])
def test_a_vertical_meta_no_longer_lists_is_refused_and_changes_nothing(
        emulator: Emulator, emulator_api: EmulatorHTTP, vertical: str) -> None:
    body = {"messaging_product": "whatsapp", "vertical": vertical, "about": "changed"}
    err = error_of(emulator_api.post(f"/{REGISTERED_DEFAULT}/whatsapp_business_profile", json=body), 400, 100)
    assert "ONLINE_GAMBLING" in err["message"] and "empty string" in err["message"]
    assert emulator.number(REGISTERED_DEFAULT)["business_profile"]["vertical"] == "RETAIL"
    assert emulator.number(REGISTERED_DEFAULT)["business_profile"]["about"] == "Acme customer support"


def test_a_profile_without_a_vertical_answers_the_empty_string(emulator_api: EmulatorHTTP) -> None:
    assert profile(emulator_api, UNREGISTERED) == {"vertical": "", "messaging_product": "whatsapp"}
    assert profile(emulator_api, UNREGISTERED, fields="about") == {"messaging_product": "whatsapp"}


# -- listings ----------------------------------------------------------------------------------

def add(emulator: Emulator, n: int, *, created: float, onboarded: float, **fields: Any) -> str:
    id_ = str(420000000000000 + n)
    emulator.add_number(id=id_, waba_id=WABA, created_at=created, onboarded_at=onboarded, **fields)
    return id_


def ids_of(api: EmulatorHTTP, **params: str) -> list[str]:
    return [n["id"] for n in api.get(f"/{WABA}/phone_numbers", params=params).json()["data"]]


def test_a_listing_sorts_newest_onboarding_first_by_default_and_by_each_of_metas_sort_values(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    # created in one order, onboarded in another
    a = add(emulator, 1, created=1000, onboarded=5000)
    b = add(emulator, 2, created=2000, onboarded=4000)
    c = add(emulator, 3, created=3000, onboarded=6000)
    assert ids_of(emulator_api) == [c, a, b]
    assert ids_of(emulator_api, sort="last_onboarded_time.desc") == [c, a, b]
    assert ids_of(emulator_api, sort="last_onboarded_time.asc") == [b, a, c]
    assert ids_of(emulator_api, sort="creation_time.asc") == [a, b, c]
    assert ids_of(emulator_api, sort="creation_time.desc") == [c, b, a]
    err = error_of(emulator_api.get(f"/{WABA}/phone_numbers", params={"sort": "id.asc"}), 400, 100)
    assert "last_onboarded_time.desc" in err["message"]


def test_a_number_added_now_lists_before_older_ones_and_shows_when_it_was_onboarded(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    new = emulator.add_number(id="430000000000001")["id"]
    assert ids_of_account(emulator_api)[0] == new
    got = emulator_api.get(f"/{new}", params={"fields": "last_onboarded_time"}).json()
    assert got["last_onboarded_time"][:4] == str(emulator_year(emulator))


def ids_of_account(api: EmulatorHTTP) -> list[str]:
    return [n["id"] for n in api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()["data"]]


def emulator_year(emulator: Emulator) -> int:
    import datetime
    return datetime.datetime.fromtimestamp(emulator.now(), datetime.timezone.utc).year


def test_paging_keeps_the_sort_and_survives_deleting_the_number_a_cursor_points_at(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    made = [add(emulator, i, created=1000 + i, onboarded=1000 + i) for i in range(5)]
    first = emulator_api.get(f"/{WABA}/phone_numbers", params={"limit": "2", "sort": "creation_time.asc"}).json()
    assert [n["id"] for n in first["data"]] == made[:2]
    assert "sort=creation_time.asc" in first["paging"]["next"]
    emulator.delete_number(made[1])  # the number the `after` cursor names
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first["paging"]["next"]).query))
    second = emulator_api.get(f"/{WABA}/phone_numbers", params=query).json()
    assert [n["id"] for n in second["data"]] == made[2:4]


def test_a_limit_above_100_is_clamped_to_100(emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    for i in range(101):
        add(emulator, i, created=1000, onboarded=1000)
    page = emulator_api.get(f"/{WABA}/phone_numbers", params={"limit": "500", "fields": "id"}).json()
    assert len(page["data"]) == 100
    assert "limit=100" in page["paging"]["next"]
    error_of(emulator_api.get(f"/{WABA}/phone_numbers", params={"limit": "0"}), 400, 100)


def test_a_listing_and_a_single_number_answer_metas_default_fields(emulator_api: EmulatorHTTP) -> None:
    page = emulator_api.get(f"/{DEMO_WABA_ID}/phone_numbers").json()
    assert [n["id"] for n in page["data"]] == sorted(DEMO_IDS, reverse=True)
    assert {frozenset(n) for n in page["data"]} == {
        frozenset({"id", "display_phone_number", "verified_name", "quality_rating"})}
    assert set(emulator_api.get(f"/{REGISTERED_BR}").json()) == {
        "id", "display_phone_number", "verified_name", "quality_rating", "code_verification_status"}


def test_a_number_is_created_in_a_business_account_with_metas_documented_parameters(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    body = {"cc": "1", "phone_number": "5550188", "verified_name": "Acme New"}
    created = emulator_api.post(f"/{DEMO_WABA_ID}/phone_numbers", json=body).json()
    rec = emulator.number(created["id"])
    assert (rec["waba_id"], rec["display_phone_number"], rec["verified_name"]) == (DEMO_WABA_ID, "+1 5550188", "Acme New")
    assert (rec["code_verification_status"], rec["platform_type"], rec["status"]) == ("NOT_VERIFIED", "NOT_APPLICABLE", "PENDING")
    assert ids_of_account(emulator_api)[0] == created["id"]
    error_of(emulator_api.post(f"/{DEMO_WABA_ID}/phone_numbers", json=body), 400, 100)  # already in use
    error_of(emulator_api.post(f"/{DEMO_WABA_ID}/phone_numbers", json={**body, "cc": "x"}), 400, 100)


# -- settings: the second body form and lower case ---------------------------------------------

def settings_of(emulator: Emulator, number: str) -> dict[str, Any]:
    return dict(emulator.number(number)["settings"]["storage_configuration"])


def test_the_enabled_region_form_turns_in_country_storage_on_and_off(emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    on = {"storage_configuration": {"enabled": True, "region": "br"}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=on).json() == {"success": True}
    assert settings_of(emulator, UNREGISTERED) == {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "BR"}
    off = {"storage_configuration": {"enabled": False}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", data={"storage_configuration": json.dumps(off["storage_configuration"])}).json() == {"success": True}
    assert settings_of(emulator, UNREGISTERED) == {"status": "DEFAULT"}


@pytest.mark.parametrize("storage", [
    {"enabled": True},                                           # no region
    {"enabled": True, "region": "US"},                           # not a Local Storage region
    {"enabled": "true", "region": "BR"},                         # not a boolean
    {"enabled": True, "region": "BR", "status": "DEFAULT"},      # two forms at once
])
def test_a_wrong_enabled_form_is_100_and_changes_nothing(emulator: Emulator, emulator_api: EmulatorHTTP,
                                                         storage: dict[str, Any]) -> None:
    error_of(emulator_api.post(f"/{UNREGISTERED}/settings", json={"storage_configuration": storage}), 400, 100)
    assert settings_of(emulator, UNREGISTERED) == {"status": "DEFAULT"}


def test_the_enabled_form_on_a_registered_number_is_refused_like_the_status_form(emulator_api: EmulatorHTTP) -> None:
    body = {"storage_configuration": {"enabled": True, "region": "IN"}}
    assert "unregistered" in error_of(emulator_api.post(f"/{REGISTERED_BR}/settings", json=body), 400, 100)["message"]


@pytest.mark.parametrize("status", ["in_country_storage_disabled", "default"])
def test_lower_case_statuses_are_accepted_in_requests(emulator: Emulator, emulator_api: EmulatorHTTP, status: str) -> None:
    emulator.patch(UNREGISTERED, settings={"storage_configuration": {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                                     "data_localization_region": "IN"}})
    body = {"storage_configuration": {"status": status}}
    assert emulator_api.post(f"/{UNREGISTERED}/settings", json=body).json() == {"success": True}
    assert settings_of(emulator, UNREGISTERED) == {"status": "DEFAULT"}


def test_with_the_lower_case_flag_settings_answer_statuses_and_regions_in_lower_case(
        make_emulator_http: Any) -> None:
    with start_emulator(lowercase_statuses=True) as emu:
        api = make_emulator_http(emu)
        assert api.get(f"/{REGISTERED_BR}/settings").json()["storage_configuration"] == {
            "status": "in_country_storage_enabled", "data_localization_region": "br"}
        assert api.get(f"/{REGISTERED_DEFAULT}/settings").json() == {
            "storage_configuration": {"status": "default"}, "calling": {"status": "ENABLED"}}
        # stored as Meta's canonical upper case; only the answer changes
        assert emu.number(REGISTERED_BR)["settings"]["storage_configuration"]["status"] == "IN_COUNTRY_STORAGE_ENABLED"


# -- versions ----------------------------------------------------------------------------------

def test_a_version_newer_than_any_released_is_400_2500_unknown_path_components(
        emulator: Emulator, emulator_api: EmulatorHTTP) -> None:
    newest = versions.parse(versions.RELEASES[-1].version)
    future = f"v{newest[0] + 1}.0"
    resp = emulator_api.post(f"/{REGISTERED_BR}/deregister", version=future)
    err = error_of(resp, 400, 2500)
    assert err["message"] == f"Unknown path components: /{future}/{REGISTERED_BR}/deregister"
    assert err["type"] == "OAuthException" and "facebook-api-version" not in resp.headers
    assert emulator.number(REGISTERED_BR)["platform_type"] == "CLOUD_API"
    assert emulator_api.get(f"/{REGISTERED_BR}", version=versions.RELEASES[-1].version).status_code == 200


def test_the_start_up_flags_reach_a_subprocess_emulator() -> None:
    with start_emulator(subprocess=True, register_accepts_region=True, lowercase_statuses=True,
                        rate_limit=False, threads=80) as emu:
        summary = requests.get(f"{emu.url}/_emulator/", timeout=10).json()
        assert (summary["register_accepts_region"], summary["lowercase_statuses"], summary["rate_limit"]) == (True, True, False)
