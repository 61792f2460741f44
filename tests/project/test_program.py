"""The stack program (`__main__.py`) under Pulumi's mocks, fed real stack config.

Config reaches the program the way the Pulumi language host hands it over: the `PULUMI_CONFIG`
environment variable (JSON, structured values as JSON text) and `PULUMI_CONFIG_SECRET_KEYS`.
Each run is a fresh subprocess, so mock state never leaks between tests.
"""

from __future__ import annotations

import json

import yaml

from emulator.seed import NOT_VERIFIED, REGISTERED_BR, REGISTERED_DEFAULT, UNREGISTERED

from tests.project.program import NUMBERS_KEY, ROOT, TYPE, is_secret, numbers_config, run_program


def test_each_declared_number_becomes_one_resource_named_after_its_id():
    result = run_program(numbers_config({
        REGISTERED_DEFAULT: {"region": "default", "pin": "123456", "name": "support-line"},
        UNREGISTERED: {"region": "in", "pin": "654321", "onDelete": "disable", "wabaId": "102290129340398",
                       "enforcePin": True, "allowCutoverOnCreate": "true"},
    }))
    assert result["error"] is None
    by_name = {r["name"]: r for r in result["resources"]}
    assert sorted(by_name) == sorted([REGISTERED_DEFAULT, UNREGISTERED])
    assert {r["type"] for r in result["resources"]} == {TYPE}
    support = by_name[REGISTERED_DEFAULT]["inputs"]
    assert support["phone_number_id"] == REGISTERED_DEFAULT
    assert support["region"] == "DEFAULT"
    assert support["on_delete"] == "retain" and support["enforce_pin"] is False
    india = by_name[UNREGISTERED]["inputs"]
    assert (india["region"], india["on_delete"], india["waba_id"]) == ("IN", "disable", "102290129340398")
    assert india["enforce_pin"] is True and india["allow_cutover_on_create"] is True


def test_the_pin_reaches_the_engine_as_a_secret():
    result = run_program(numbers_config({REGISTERED_DEFAULT: {"region": "BR", "pin": "123456"}}))
    pin = result["resources"][0]["inputs"]["pin"]
    assert is_secret(pin) and pin["value"] == "123456"


def test_pins_set_with_path_and_secret_are_read_and_stay_secret():
    # `pulumi config set --path --secret 'phoneNumbers["…"].pin'` makes the whole key secret
    result = run_program(numbers_config({REGISTERED_BR: {"region": "BR", "pin": "123456"}}), [NUMBERS_KEY])
    assert result["error"] is None
    assert is_secret(result["resources"][0]["inputs"]["pin"])


def test_the_name_is_exported_but_never_the_resource_name():
    result = run_program(numbers_config({REGISTERED_BR: {"region": "br", "pin": "123456", "name": "acme-brasil"}}))
    assert [r["name"] for r in result["resources"]] == [REGISTERED_BR]
    assert result["exports"]["numbers"] == {REGISTERED_BR: {
        "name": "acme-brasil", "region": "BR", "storage_status": "DEFAULT", "registered": True,
        "display_phone_number": "+1 555-0100", "applied_steps": []}}


def test_bad_entries_are_all_reported_with_their_path_before_any_resource_is_registered():
    result = run_program(numbers_config({
        REGISTERED_DEFAULT: {"region": "BR", "pin": "123456"},  # valid, yet not registered either
        UNREGISTERED: {"pin": "123456"},
        NOT_VERIFIED: "DE",
        REGISTERED_BR: {"region": "UK", "colour": "blue", "pin": "12ab"},
    }))
    assert result["resources"] == []
    message = result["error"]["message"]
    assert f'phoneNumbers["{UNREGISTERED}"].region: is required' in message
    assert f'phoneNumbers["{NOT_VERIFIED}"]: must be a map' in message
    assert f'phoneNumbers["{REGISTERED_BR}"].colour: unknown key' in message
    assert f'phoneNumbers["{REGISTERED_BR}"].region: region \'UK\'' in message and "GB" in message
    assert f'phoneNumbers["{REGISTERED_BR}"].pin: must be exactly 6 digits' in message
    assert "12ab" not in message  # a PIN is never echoed, even a wrong one


def test_a_phone_numbers_value_that_is_not_a_map_is_refused():
    result = run_program(numbers_config([{"id": REGISTERED_DEFAULT, "region": "BR"}]))
    assert result["resources"] == []
    assert "phoneNumbers must be a map keyed by phone number ID" in result["error"]["message"]


def test_a_stack_without_phone_numbers_is_refused_but_an_empty_map_manages_none():
    missing = run_program({})
    assert missing["resources"] == [] and "no phoneNumbers" in missing["error"]["message"]
    empty = run_program(numbers_config({}))
    assert empty["error"] is None and empty["resources"] == []
    assert empty["exports"] == {"numbers": {}}


def test_the_local_stack_file_declares_the_demo_numbers_it_documents():
    stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in stack.items()}
    result = run_program(config)
    assert result["error"] is None
    regions = {r["name"]: r["inputs"]["region"] for r in result["resources"]}
    assert regions == {REGISTERED_DEFAULT: "DEFAULT", REGISTERED_BR: "BR", UNREGISTERED: "IN"}


ALLOWED_KEY = "whatsapp-local-storage:allowedRegions"


def test_every_number_outside_allowed_regions_is_refused_in_one_error_before_any_resource():
    result = run_program({**numbers_config({
        REGISTERED_BR: {"region": "BR", "pin": "123456"},
        REGISTERED_DEFAULT: {"region": "default"},
        UNREGISTERED: {"region": "de"},
    }), ALLOWED_KEY: json.dumps(["DE", "GB"])})
    assert result["resources"] == []
    message = result["error"]["message"]
    assert "2 problems; no resource was declared" in message
    assert f'phoneNumbers["{REGISTERED_BR}"].region: BR (Brazil) is outside the stack\'s allowedRegions (DE, GB)' \
        in message
    assert f'phoneNumbers["{REGISTERED_DEFAULT}"].region: DEFAULT' in message
    assert UNREGISTERED not in message


def test_numbers_inside_allowed_regions_are_declared_and_default_only_when_listed():
    numbers = numbers_config({REGISTERED_BR: {"region": "br"}, REGISTERED_DEFAULT: {"region": "DEFAULT"}})
    result = run_program({**numbers, ALLOWED_KEY: json.dumps(["br", "DEFAULT"])})
    assert result["error"] is None
    assert sorted(r["name"] for r in result["resources"]) == sorted([REGISTERED_BR, REGISTERED_DEFAULT])
    refused = run_program({**numbers, ALLOWED_KEY: json.dumps(["BR"])})
    assert refused["resources"] == []
    assert f'phoneNumbers["{REGISTERED_DEFAULT}"].region: DEFAULT' in refused["error"]["message"]
    assert f'phoneNumbers["{REGISTERED_BR}"]' not in refused["error"]["message"]


def test_an_empty_allowed_regions_list_allows_no_number():
    result = run_program({**numbers_config({REGISTERED_BR: {"region": "BR"}}), ALLOWED_KEY: "[]"})
    assert result["resources"] == []
    assert "outside the stack's allowedRegions (none)" in result["error"]["message"]


def test_a_malformed_allowed_regions_is_refused_naming_the_setting_with_the_entries_problems():
    numbers = {REGISTERED_BR: {"region": "BR"}, UNREGISTERED: {"region": "XX"}}
    for value, expected in [
        ("BR", "allowedRegions must be a list of region codes, not the text 'BR'"),  # config set allowedRegions BR
        (json.dumps({"BR": True}), "allowedRegions must be a list of region codes, not dict"),
        (json.dumps(["DE", "UK"]), "allowedRegions[1]: region 'UK' is not a Meta region code: the United Kingdom's "
                                   "ISO code is GB"),
    ]:
        result = run_program({**numbers_config(numbers), ALLOWED_KEY: value})
        assert result["resources"] == [], value
        message = result["error"]["message"]
        assert expected in message, message
        assert f'phoneNumbers["{UNREGISTERED}"].region' in message  # reported in the same error


def test_without_allowed_regions_every_region_is_allowed():
    result = run_program(numbers_config({REGISTERED_BR: {"region": "BR"}, UNREGISTERED: {"region": "IN"}}))
    assert result["error"] is None and len(result["resources"]) == 2
