"""The adapter's lifecycle decisions (``provider/lifecycle.py``) as tables: no engine, no Graph."""

from __future__ import annotations

from collections import Counter

import pytest

from provider import lifecycle
from provider.fleet import Fleet
from provider.ledger import CallLedger
from provider.lifecycle import SCHEMA_VERSION

N = "106540352242922"
OTHER = "106540352242923"

# (on_delete, the stack's phoneNumbers (None: no such key), a resource of this process declared it,
#  disables?, why, in the message)
ON_DELETE = [
    ("retain", None, False, False, "retained (on_delete=retain)"),
    (None, frozenset(), False, False, "retained (on_delete=retain)"),
    ("retain", frozenset(), False, False, "retained"),
    ("disable", frozenset({OTHER}), False, True, None),
    ("disable", frozenset(), False, True, None),
    ("disable", frozenset({N, OTHER}), False, False, f'still declares it (phoneNumbers["{N}"]'),
    ("disable", None, False, False, "declared in code"),
    ("disable", frozenset({OTHER}), True, False, "another resource of this deployment declares the number"),
    ("disable", None, True, False, "another resource of this deployment declares the number"),
]


@pytest.mark.parametrize("mode, declared, wanted_here, disables, why", ON_DELETE)
def test_on_delete_disables_only_a_number_the_stack_config_no_longer_lists(mode, declared, wanted_here, disables, why):
    verdict = lifecycle.on_delete(N, mode, declared, wanted_here, "BR (Brazil)")
    assert verdict.disable is disables
    if disables:
        assert verdict.message is None
    else:
        assert verdict.message is not None  # a kept number is told why
        assert why in verdict.message and N in verdict.message
        if mode == "disable":
            assert "no call made" in verdict.message and lifecycle.EXPLICIT_DISABLE in verdict.message


STACK_NUMBERS = [
    (None, None),
    ('{"106540352242922": {"region": "BR"}}', frozenset({N})),
    ("{}", frozenset()),
    ({N: {"region": "BR"}, 106540352242923: {}}, frozenset({N, OTHER})),  # YAML may read IDs as ints
    ("not json", None),
    ('["106540352242922"]', None),
]


@pytest.mark.parametrize("raw, numbers", STACK_NUMBERS)
def test_stack_numbers_reads_the_phone_numbers_map_as_the_engine_sends_it(raw, numbers):
    assert lifecycle.stack_numbers(raw) == numbers


# (outputs in state, declared region, differs without a token?)
OFFLINE_DIFF = [
    ({"region": "BR", "registered": True}, "BR", False),
    ({"region": "BR", "registered": False}, "BR", True),
    ({"region": "BR"}, "BR", True),
    ({"region": "IN", "registered": True}, "BR", True),
    ({"registered": True}, "BR", True),
]


@pytest.mark.parametrize("olds, region, differs", OFFLINE_DIFF)
def test_the_diff_without_a_token_trusts_only_a_registered_number_in_the_declared_region(olds, region, differs):
    assert lifecycle.offline_diff(olds, region) is differs


ECHOES = [
    ({"phone_number_id": N, "declared_region": "BR", "pin": "1"}, {"phone_number_id": N, "region": "BR", "pin": "1"}, False),
    ({"phone_number_id": N, "declared_region": "BR", "pin": "1"}, {"phone_number_id": N, "region": "IN", "pin": "1"}, True),
    ({"phone_number_id": N, "region": "IN", "pin": "1"}, {"phone_number_id": N, "region": "BR", "pin": "1"}, False),
    ({"phone_number_id": N, "declared_region": "BR", "pin": "1"}, {"phone_number_id": N, "region": "BR", "pin": "2"}, True),
    ({"phone_number_id": N, "declared_region": "BR"}, {"phone_number_id": N, "region": "BR", "on_delete": "disable"}, True),
]


@pytest.mark.parametrize("olds, inputs, differ", ECHOES)
def test_echoes_compare_every_input_and_the_region_with_declared_region(olds, inputs, differ):
    assert lifecycle.echoes_differ(olds, inputs) is differ


@pytest.mark.parametrize("outputs, stale", [({"schema_version": SCHEMA_VERSION}, False), ({}, True),
                                            ({"schema_version": 1}, True)])
def test_state_of_an_older_schema_is_stale(outputs, stale):
    assert lifecycle.is_stale(outputs) is stale


DECLARED = [
    ({"declared_region": "IN", "region": "BR"}, "IN"),
    ({"region": "br"}, "BR"),  # schema 1: the live region at the last converge was the declared one
    ({"declared_region": "XX", "region": "DE"}, "DE"),
    ({"region": None}, None),
    ({}, None),
]


@pytest.mark.parametrize("outputs, region", DECLARED)
def test_declared_region_migrates_schema_1_state(outputs, region):
    assert lifecycle.declared_region(outputs) == region


REFRESHED = [
    # (outputs in state, live region, stored region): live drift becomes the declaration;
    # No Storage or unknown (None) keeps the declared one
    ({"phone_number_id": N, "declared_region": "BR", "pin": "123456"}, "IN", "IN"),
    ({"phone_number_id": N, "declared_region": "BR", "pin": "123456"}, None, "BR"),
    ({"phone_number_id": N, "region": "BR"}, None, "BR"),
    ({"phone_number_id": N}, None, None),
]


@pytest.mark.parametrize("props, live, region", REFRESHED)
def test_refresh_stores_inputs_that_stay_valid_in_every_live_state(props, live, region):
    inputs, recorded = lifecycle.refreshed_inputs(props, live)
    assert recorded == region and inputs.get("region") == region
    assert inputs["phone_number_id"] == N and "declared_region" not in inputs
    assert inputs.get("pin") == props.get("pin")


GONE = [
    ("300", [OTHER], True),
    ("300", [N, OTHER], False),
    ("300", None, False),  # the business account is not visible either: nothing is confirmed
    (None, [OTHER], False),
    ("", [], False),
]


@pytest.mark.parametrize("waba, listed, gone", GONE)
def test_a_number_is_gone_only_when_its_visible_business_account_no_longer_lists_it(waba, listed, gone):
    assert lifecycle.confirmed_gone(N, waba, listed) is gone


def test_the_stale_token_message_names_every_way_through():
    text = lifecycle.token_from_state(N, "the access token was rejected (190)")
    for way in ("`pulumi refresh --run-program`", "`pulumi destroy --run-program`",
                "`pulumi up` while the program declares at least one number",
                "declare one number again, run `pulumi up`, then remove it"):
        assert way in text


def test_fleet_counts_calls_two_entries_carry_once_and_keeps_same_second_calls():
    fleet = Fleet()
    fleet.calls.saw(N, CallLedger.from_state(["2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"]))
    fleet.calls.saw(N, CallLedger.from_state(["2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z",
                                              "2026-12-01T12:00:00Z"]))  # its successor
    fleet.calls.saw(N, CallLedger.from_state(None))
    assert Counter(fleet.calls.of(N).serialise()) == Counter({"2026-12-01T10:00:00Z": 2, "2026-12-01T11:00:00Z": 1,
                                                              "2026-12-01T12:00:00Z": 1})
    assert Counter(fleet.calls.of(OTHER).serialise()) == Counter()


def test_fleet_holds_the_stack_config_and_a_new_fleet_forgets_it():
    fleet = Fleet()
    fleet.configure({"whatsapp:apiVersion": "v25.0"})
    assert fleet.stack_config == {"whatsapp:apiVersion": "v25.0"}
    assert Fleet().stack_config == {}


# (the stack's phoneNumbers, a resource of this process declared it, consented, disables?)
CONSENTED = [
    (frozenset({N}), False, True, True),  # plain destroy on a saved config that still lists it
    (None, False, True, True),  # numbers declared in code
    (frozenset({N}), True, True, False),  # consent never overrides a resource that declared it
    (frozenset({N}), False, False, False),
]


@pytest.mark.parametrize("declared, wanted_here, consented, disables", CONSENTED)
def test_consent_in_the_environment_lets_a_delete_disable_a_number_no_resource_of_the_process_wants(
        declared: frozenset[str] | None, wanted_here: bool, consented: bool, disables: bool) -> None:
    verdict = lifecycle.on_delete(N, "disable", declared, wanted_here, "BR (Brazil)", consented)
    assert verdict.disable is disables
    assert lifecycle.on_delete(N, "retain", declared, wanted_here, None, consented).disable is False


def test_without_consent_the_no_call_message_names_both_explicit_ways() -> None:
    message = lifecycle.on_delete(N, "disable", frozenset({N}), False).message or ""
    assert "region DEFAULT and run `pulumi up`" in message and f"{lifecycle.CONSENT_VARIABLE}=" in message


@pytest.mark.parametrize("raw, found", [
    (None, frozenset()), ("", frozenset()), (f"{N}", frozenset({N})), (f" {N} , {OTHER} ", frozenset({N, OTHER})),
])
def test_the_consent_variable_lists_exact_ids(raw: str | None, found: frozenset[str]) -> None:
    assert lifecycle.disable_consent(raw) == found


@pytest.mark.parametrize("raw", ["*", f"{N},*", "10654035224292*", "１２３", f"{N},,{OTHER}", "all", f"{N};{OTHER}"])
def test_the_consent_variable_refuses_wildcards_and_anything_but_ascii_digit_ids(raw: str) -> None:
    with pytest.raises(ValueError, match=lifecycle.CONSENT_VARIABLE):
        lifecycle.disable_consent(raw)
