"""The declaration's one schema (``provider/declaration.py``): every spelling of the inputs derives from
``Declaration``'s fields, and the hand-written copies (the resource's Args and outputs) equal it."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from provider.declaration import (
    INPUT_KEYS,
    OUTPUT_ONLY_KEYS,
    SECRET_KEYS,
    STACK_KEYS,
    STACK_SPELLING,
    Declaration,
    delete_target,
)
from provider.inputs import declare, from_stack_entry

TODAY = date(2026, 12, 9)
N = "106540352242922"


def test_the_resource_args_are_the_declarations_fields_in_order() -> None:
    from provider.resource import PhoneNumberStorageArgs

    parameters = list(inspect.signature(PhoneNumberStorageArgs.__init__).parameters)[1:]
    assert tuple(parameters) == INPUT_KEYS


def test_the_resource_outputs_are_every_input_and_every_output_only_key() -> None:
    from provider.resource import PhoneNumberStorage

    assert set(PhoneNumberStorage.__annotations__) == set(INPUT_KEYS) | set(OUTPUT_ONLY_KEYS)
    assert not set(INPUT_KEYS) & set(OUTPUT_ONLY_KEYS) - {"region"}


def test_the_resource_sends_only_schema_keys_and_keeps_the_secret_ones_secret() -> None:
    from tests.engine_process import SECRET_KEY, capture_resource

    inputs = capture_resource()["inputs"]  # the keys with a value (a PIN is given): Pulumi drops None
    assert set(inputs) - {"__provider"} <= set(INPUT_KEYS) | set(OUTPUT_ONLY_KEYS)
    assert {name for name, value in inputs.items() if isinstance(value, dict) and SECRET_KEY in value} \
        == set(SECRET_KEYS) | {"__provider"}


def test_stack_spellings_name_every_input_but_the_entrys_own_key() -> None:
    assert set(STACK_KEYS.values()) == set(INPUT_KEYS) - {"phone_number_id"}
    assert STACK_SPELLING["allow_cutover_on_create"] == "allowCutoverOnCreate" and SECRET_KEYS == {"pin"}


def test_a_stack_entry_and_the_programs_arguments_come_from_the_same_schema() -> None:
    entry = {"region": "br", "pin": "012345", "enforcePin": "true", "onDelete": "Disable", "wabaId": 7,
             "cutoverWindows": ["sun 03:00-05:00 Europe/Berlin"], "name": "support"}
    declaration, failures = from_stack_entry(N, entry, today=TODAY)
    assert failures == [] and declaration is not None
    assert declaration == Declaration(N, "BR", pin="012345", enforce_pin=True, on_delete="disable", waba_id="7",
                                      cutover_windows=("Sun 03:00-05:00 Europe/Berlin",))
    arguments = declaration.program_arguments(lambda value: ("secret", value))
    assert list(arguments) == list(INPUT_KEYS) and arguments["pin"] == ("secret", "012345")
    assert arguments["cutover_windows"] == ["Sun 03:00-05:00 Europe/Berlin"]
    assert declaration.echoes()["declared_region"] == "BR" and "region" not in declaration.echoes()


def test_the_pin_never_shows_in_a_declarations_repr() -> None:
    declaration, _ = declare({"phone_number_id": N, "region": "BR", "pin": "987654"}, today=TODAY)
    assert declaration is not None and "987654" not in repr(declaration)


def test_validation_returns_no_declaration_with_its_problems() -> None:
    declaration, failures = declare({"phone_number_id": N, "region": "UK", "enforce_pin": True}, today=TODAY)
    assert declaration is None and [f.property for f in failures] == ["region", "pin"]


@pytest.mark.parametrize("outputs, expected", [
    ({"pin": "123456", "enforce_pin": True, "on_delete": "disable", "cutover_windows": ["Sun 03:00-05:00 UTC"],
      "declared_region": "BR", "region": "BR"},
     Declaration(N, "DEFAULT", pin="123456", enforce_pin=True, on_delete="disable",
                 cutover_windows=("Sun 03:00-05:00 UTC",))),
    ({}, Declaration(N, "DEFAULT")),
    ({"on_delete": None, "waba_id": "300"}, Declaration(N, "DEFAULT", waba_id="300")),
])
def test_a_deletes_target_is_default_with_what_state_stored(outputs: dict[str, object], expected: Declaration) -> None:
    assert delete_target(N, outputs) == expected
