"""allowedRegions: one parser for the stack program, the provider's check and the CLI."""

from __future__ import annotations

import pytest

from provider.compliance import PolicyError, allows, outside, parse_allowed_regions


def test_no_setting_means_no_policy_and_every_region_is_allowed():
    assert parse_allowed_regions(None) is None
    assert allows(None, "BR") and allows(None, "DEFAULT")


def test_codes_are_normalised_from_a_list_or_the_json_text_the_engine_sends():
    assert parse_allowed_regions(["br", " de "]) == frozenset({"BR", "DE"})
    assert parse_allowed_regions('["BR", "DEFAULT"]') == frozenset({"BR", "DEFAULT"})


def test_default_storage_is_allowed_only_when_listed():
    assert not allows(frozenset({"BR"}), "DEFAULT")
    assert allows(frozenset({"BR", "DEFAULT"}), "DEFAULT")


def test_unmanaged_storage_never_satisfies_a_policy():
    assert not allows(frozenset({"BR"}), None)


@pytest.mark.parametrize("value, hint", [
    ("BR", "must be a list"),
    ({"BR": True}, "must be a list"),
    (["UK"], "allowedRegions[0]: region 'UK' is not a Meta region code: the United Kingdom's ISO code is GB"),
    (["BR", "EU"], "allowedRegions[1]: region 'EU' is not a Meta region code"),
    (["XX"], "allowedRegions[0]: region 'XX' is not supported"),
])
def test_a_malformed_policy_names_the_setting_and_the_fix(value, hint):
    with pytest.raises(PolicyError) as info:
        parse_allowed_regions(value)
    assert "allowedRegions" in str(info.value) and hint in str(info.value)


def test_outside_lists_the_numbers_in_order():
    assert outside({"1": "BR", "2": "IN", "3": None}, frozenset({"BR"})) == ["2", "3"]
