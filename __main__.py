"""The stack program: one PhoneNumberStorage per number in the stack's ``phoneNumbers`` map.

Each resource is named after its phone number ID, so editing, reordering or renaming an entry
never renames a resource (a renamed resource would be deleted and created again). Every entry is
checked with the same rules as the provider's ``check`` before any resource is registered: one
bad entry stops the whole program with every problem listed, instead of a half-declared fleet.
"""

from __future__ import annotations

from typing import Any, Mapping

import pulumi

from provider import PhoneNumberStorage, PhoneNumberStorageArgs
from provider.inputs import from_stack_entry

EXAMPLE = ('pulumi config set --path \'phoneNumbers["106540352242922"].region\' BR, then '
           'pulumi config set --path --secret \'phoneNumbers["106540352242922"].pin\' 123456')


def declared_numbers(raw: Any) -> list[tuple[str, dict[str, Any], str | None]]:
    """(phone number ID, normalised inputs, name) per entry, or one error listing every problem."""
    if raw is None:
        raise pulumi.RunError(
            "stack config has no phoneNumbers: declare the numbers this stack manages, keyed by phone number "
            f"ID ({EXAMPLE}), or set phoneNumbers to {{}} to manage none")
    if not isinstance(raw, Mapping):
        raise pulumi.RunError(f"phoneNumbers must be a map keyed by phone number ID, e.g. {EXAMPLE}")
    numbers, problems = [], []
    for key in sorted(raw, key=lambda k: (len(str(k)), str(k))):
        entry = raw[key]
        inputs, failures = from_stack_entry(str(key), entry)
        problems.extend(failures)
        name = entry.get("name") if isinstance(entry, Mapping) else None
        numbers.append((str(key), inputs, None if name is None else str(name)))
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise pulumi.RunError(
            f"phoneNumbers in the stack config has {len(problems)} problem(s); no resource was declared:\n{listed}")
    return numbers


def declare(numbers: list[tuple[str, dict[str, Any], str | None]]) -> dict[str, PhoneNumberStorage]:
    resources = {}
    for number_id, inputs, _name in numbers:
        pin = inputs.get("pin")
        resources[number_id] = PhoneNumberStorage(number_id, PhoneNumberStorageArgs(
            phone_number_id=number_id,
            region=inputs["region"],
            pin=pulumi.Output.secret(pin) if pin is not None else None,
            enforce_pin=inputs["enforce_pin"],
            allow_cutover_on_create=inputs["allow_cutover_on_create"],
            on_delete=inputs["on_delete"],
            waba_id=inputs.get("waba_id"),
        ))
    return resources


numbers = declared_numbers(pulumi.Config().get_object("phoneNumbers"))
resources = declare(numbers)
pulumi.export("numbers", {
    number_id: {
        "name": name,
        "region": resources[number_id].region,
        "storage_status": resources[number_id].storage_status,
        "registered": resources[number_id].registered,
        "display_phone_number": resources[number_id].display_phone_number,
        "applied_steps": resources[number_id].applied_steps,
    }
    for number_id, _inputs, name in numbers
})
