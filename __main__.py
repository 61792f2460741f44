"""The stack program: one PhoneNumberStorage per number in the stack's ``phoneNumbers`` map.

Each resource is named after its phone number ID, so editing, reordering or renaming an entry
never renames a resource (a renamed resource would be deleted and created again). Every entry is
checked with the same rules as the provider's ``check`` before any resource is registered: one
bad entry stops the whole program with every problem listed, instead of a half-declared fleet.

When the stack config sets ``allowedRegions`` (docs/contract.md, "Compliance policy"), an entry whose region is
outside it is one more such problem: no number is declared, so none can be moved there.

Change windows (docs/contract.md, "Change windows and blackouts"): each resource gets its number's ``cutoverWindows`` if the
entry has them, else the stack's ``cutoverWindows``, as its ``cutover_windows`` input. The windows
that apply to a number are then in its inputs, where a reviewer, the state and the CrossGuard
pack see them; a malformed window is one more problem that stops the program.

Blackouts (README "Change windows"): each resource's ``cutover_blackouts`` input is the stack's
``cutoverBlackouts`` followed by the number's own, since a number's blackouts add to the stack's
(a freeze one entry could drop would be no freeze). The provider also reads the stack's from its
configuration, so resources declared in code get them too.
"""

from __future__ import annotations

from typing import Any, Mapping

import pulumi

from provider import PhoneNumberStorage, PhoneNumberStorageArgs
from provider import clock, escape, schedule
from provider.compliance import SETTING, Violation, outside, parse_allowed_regions
from provider.declaration import Declaration
from provider.errors import ConfigurationError
from provider.inputs import from_stack_entry
from provider.notices import Notices
from provider.regions import InvalidRegion, normalize_region
from provider.wording import counted

EXAMPLE = ('pulumi config set --path \'phoneNumbers["106540352242922"].region\' BR, then '
           'pulumi config set --path --secret \'phoneNumbers["106540352242922"].pin\' (it prompts for the PIN)')


def stack_object(config: pulumi.Config, setting: str) -> Any:
    """A structured setting's raw value: parsed JSON, or the text itself when it is not JSON (as
    ``pulumi config set allowedRegions BR`` stores it), for the parser to explain."""
    try:
        return config.get_object(setting)
    except pulumi.ConfigTypeError:
        return config.get(setting)


def stack_allowed_regions(config: pulumi.Config) -> Any:
    return stack_object(config, SETTING)


def _region(entry: Any) -> str | None:
    """An entry's region as the input rules normalise it, or None when it has no valid one (its
    own problem then), so that an entry with another problem is still checked against the policy."""
    try:
        return normalize_region(entry.get("region")) if isinstance(entry, Mapping) else None
    except InvalidRegion:
        return None


def outside_policy(raw: Mapping[Any, Any], allowed: frozenset[str]) -> list[str]:
    regions = {str(key): region for key in sorted(raw, key=lambda k: (len(str(k)), str(k)))
               if (region := _region(raw[key])) is not None}
    return [f'phoneNumbers["{number_id}"].region: '
            + Violation(regions[number_id], allowed).message("", f"the stack's {SETTING}")
            + f"; declare one of those, or add {regions[number_id]} to {SETTING} if this stack may keep "
            "message content there"
            for number_id in outside(regions, allowed)]


def declared_numbers(raw: Any, allowed_raw: Any = None, windows_raw: Any = None, blackouts_raw: Any = None
                     ) -> list[tuple[Declaration, str | None]]:
    """(declaration, name) per entry, or one error listing every problem, ``allowedRegions``
    violations and malformed windows included. Each declaration carries the windows that apply to
    it (its own, else the stack's) as ``cutover_windows``."""
    Notices().once(clock.notice())  # a test clock says so in the program's log too
    today = clock.now().date()
    problems: list[Any] = []
    try:
        allowed = parse_allowed_regions(allowed_raw)
    except ConfigurationError as exc:
        allowed = None  # no policy to check entries against; the problem itself stops the program
        problems.append(exc)
    try:
        stack_windows = schedule.normalised(windows_raw, setting=schedule.SETTING, today=today)
    except ConfigurationError as exc:
        stack_windows = None
        problems.append(exc)
    try:
        stack_blackouts = schedule.blackouts_normalised(blackouts_raw, setting=schedule.BLACKOUTS_SETTING)
    except ConfigurationError as exc:
        stack_blackouts = None
        problems.append(exc)
    if raw is None:
        problems.append("stack config has no phoneNumbers: declare the numbers this stack manages, keyed by "
                        f"phone number ID ({EXAMPLE}), or set phoneNumbers to {{}} to manage none")
        raw = {}
    elif not isinstance(raw, Mapping):
        problems.append(f"phoneNumbers must be a map keyed by phone number ID, e.g. {EXAMPLE}")
        raw = {}
    numbers = []
    for key in sorted(raw, key=lambda k: (len(str(k)), str(k))):
        entry = raw[key]
        declaration, failures = from_stack_entry(str(key), entry, today=today)
        problems.extend(failures)
        if declaration is None:
            continue
        if declaration.cutover_windows is None and stack_windows is not None:
            declaration = declaration.with_windows(stack_windows)
        if stack_blackouts:
            declaration = declaration.with_blackouts(tuple(schedule.effective_normalised(
                declaration.cutover_blackouts, stack_blackouts) or ()))
        name = entry.get("name") if isinstance(entry, Mapping) else None
        numbers.append((declaration, None if name is None else str(name)))
    if allowed is not None:
        problems.extend(outside_policy(raw, allowed))
    if problems:
        # escaped: a stack key or value can hold a line break that starts a `::` workflow command, or `##[`
        listed = "\n".join(f"  - {escape.text(problem)}" for problem in problems)
        raise pulumi.RunError(
            f"the stack config has {counted(len(problems), 'problem')}; no resource was declared:\n{listed}")
    return numbers


def declare(numbers: list[tuple[Declaration, str | None]]) -> dict[str, PhoneNumberStorage]:
    """One resource per declaration, named after its number; its arguments by the declaration's
    schema (the PIN as a secret)."""
    resources = {}
    for declaration, _name in numbers:
        number_id = declaration.phone_number_id
        resources[number_id] = PhoneNumberStorage(number_id, PhoneNumberStorageArgs(
            **declaration.program_arguments(pulumi.Output.secret)))
    return resources


stack_config = pulumi.Config()
numbers = declared_numbers(stack_config.get_object("phoneNumbers"), stack_allowed_regions(stack_config),
                           stack_object(stack_config, schedule.SETTING),
                           stack_object(stack_config, schedule.BLACKOUTS_SETTING))
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
    for number_id, name in ((declaration.phone_number_id, name) for declaration, name in numbers)
})
