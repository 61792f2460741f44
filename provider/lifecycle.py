"""The resource's lifecycle decisions, free of Pulumi: what the adapter (``resource.py``) asks.

Each function takes plain values and returns a verdict, so the rules are tested as tables
(``tests/provider/test_lifecycle.py``) as well as through the engine:

- ``on_delete``: whether a Delete may disable its number, or must make no call (and why); the
  assessment applies it (``assessment.assess``), for the provider's Delete and the CLI alike;
- ``stack_numbers``: the numbers the stack's own configuration (``phoneNumbers``) declares;
- ``offline_diff``: the diff without a token, from the outputs in state;
- ``declared_region`` and ``refreshed_inputs``: the state migration and what a refresh stores;
- ``confirmed_gone``: when "not found" may mark a number deleted;
- ``token_from_state``: the way through when the configuration saved in state is stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .declaration import INPUT_KEYS
from .inputs import is_ascii_digits
from .regions import InvalidRegion, normalize_region

# 2: ``declared_region`` (the region the resource declares; ``region`` is the live one).
SCHEMA_VERSION = 2

NUMBERS_KEY = "whatsapp-local-storage:phoneNumbers"  # the stack program's own key: present on any CLI >= 3.139

CONSENT_VARIABLE = "WHATSAPP_DISABLE_ON_DELETE"

# What a Delete says when it makes no call although the resource asked for on_delete: disable.
EXPLICIT_DISABLE = ("To turn local storage off for it, either declare region DEFAULT and run `pulumi up` "
                    "(a reviewed update), then remove the resource; or consent for this number in the environment "
                    f"of the command that deletes it: {CONSENT_VARIABLE}=<phone number ID> (exact IDs, "
                    "comma-separated; never in a stack file or an imported ESC environment).")


# -- on_delete ---------------------------------------------------------------------------------------


def stack_numbers(raw: Any) -> frozenset[str] | None:
    """The phone number IDs the stack's ``phoneNumbers`` config declares, or None when the
    configuration has no such key (a program that declares its numbers in code, or a CLI that
    passes no stack config). The engine hands structured config over as JSON text."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None  # the program itself reports a malformed map before any resource exists
    if not isinstance(raw, Mapping):
        return None
    return frozenset(str(key) for key in raw)


def disable_consent(raw: str | None) -> frozenset[str]:
    """The numbers the person running the command consented to disable on delete
    (``WHATSAPP_DISABLE_ON_DELETE=ID,ID``). Environment only: the CLI's environment reaches every
    provider process, plain ``destroy`` included, and no stack file (so no pull request) can set it.
    Exact phone number IDs of ASCII digits; no wildcard, nothing else. Raises ValueError naming
    the bad item, so that a typo never silently disables nothing (or anything else)."""
    if raw is None or not raw.strip():
        return frozenset()
    found: set[str] = set()
    for item in raw.split(","):
        item = item.strip()
        if not is_ascii_digits(item):
            shown = repr(item) if len(item) <= 40 else repr(item[:40] + "...")
            hint = " (no wildcard: list each phone number ID)" if "*" in item else ""
            raise ValueError(f"{CONSENT_VARIABLE}: {shown} is not a phone number ID{hint}; write exact IDs of "
                             "digits 0-9 separated by commas, e.g. 106540352242922,106540352242923")
        found.add(item)
    return frozenset(found)


@dataclass(frozen=True)
class DeleteVerdict:
    disable: bool
    message: str | None  # what the Delete prints when it makes no call


def on_delete(number_id: str, mode: str | None, declared: frozenset[str] | None, wanted_here: bool,
              region: str | None = None, consented: bool = False) -> DeleteVerdict:
    """May this Delete disable the number? Only when the deployment certainly no longer wants it.

    A process sees only part of a deployment: ``--target``/``--exclude`` send untargeted
    resources no call, ``destroy`` and the deletes of a program that declares no number run on
    the configuration saved in state, and a program that declares its numbers in code shows none
    of them to a Delete. So the number counts as still wanted when a resource of this process
    declared or converged it (``wanted_here``) or the stack's ``phoneNumbers`` lists it; and when
    there is no ``phoneNumbers`` at all, the provider cannot know and makes no call either.
    ``consented`` (``WHATSAPP_DISABLE_ON_DELETE`` names the number) stands in for the stack's
    word: the person running the command says the number goes. It never overrides a resource of
    this process that declared or converged the number.
    """
    if (mode or "retain") != "disable":
        return DeleteVerdict(False, f"whatsapp {number_id}: retained (on_delete=retain): no call made; the number "
                                    f"keeps its storage {region or 'as it is'}")
    why: str | None = None
    if wanted_here:
        why = ("another resource of this deployment declares the number (renamed or replaced resource)")
    elif consented:
        why = None
    elif declared is None:
        why = ("the provider cannot tell whether the program still declares it: the numbers are declared in "
               "code, not in the stack's phoneNumbers, and a targeted or excluded update (--target, --exclude) "
               "or a destroy shows a Delete none of the program's other resources")
    elif number_id in declared:
        why = (f'the stack configuration this process was given still declares it (phoneNumbers["{number_id}"]; '
               "refresh, destroy and the deletes of a program that declares no number get the configuration "
               "saved by the last command that ran a program declaring one)")
    if why is None:
        return DeleteVerdict(True, None)
    return DeleteVerdict(False, f"whatsapp {number_id}: not disabled, no call made: {why}, so on_delete=disable "
                                f"is not applied. {EXPLICIT_DISABLE}")


# -- diff without a token ----------------------------------------------------------------------------


def offline_diff(olds: Mapping[str, Any], region: str) -> bool:
    """Without a token the diff cannot read the number: the outputs in state stand in for it (the
    live region at the last converge or refresh, and whether it was registered)."""
    return olds.get("region") != region or olds.get("registered") is not True


def echoes_differ(olds: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    """The outputs echo the inputs (``region``'s echo is ``declared_region``, absent before schema 2,
    which ``is_stale`` covers)."""
    return any(olds.get(k) != inputs.get(k) for k in INPUT_KEYS if k != "region") or (
        "declared_region" in olds and olds["declared_region"] != inputs["region"])


def is_stale(outputs: Mapping[str, Any]) -> bool:
    return outputs.get("schema_version") != SCHEMA_VERSION


def inputs_changed(olds: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    """`pulumi up` runs an Update for the inputs alone (no call when live is in sync): an input
    differs from its echo, or the outputs are of an older schema. The Diff and `--ready-targets` ask this."""
    return echoes_differ(olds, inputs) or is_stale(olds)


# -- state migration and refresh ---------------------------------------------------------------------


def declared_region(outputs: Mapping[str, Any]) -> str | None:
    """The region the resource declares, from its outputs. State written before schema 2 has no
    ``declared_region``; its ``region`` is the live region at the last converge, which was the
    declared one (or what an older provider's refresh recorded as the new declaration)."""
    for value in (outputs.get("declared_region"), outputs.get("region")):
        try:
            return normalize_region(value)
        except InvalidRegion:
            continue
    return None


def refreshed_inputs(props: Mapping[str, Any], live_region: str | None) -> tuple[dict[str, Any], str | None]:
    """What a refresh stores as inputs, and the declared region it records (None: none known).

    The inputs come back to the next refresh's diff as news, so they must stay valid in every live
    state: the live region where it is one this provider manages (the drift becomes the
    declaration, as `pulumi refresh` means), else the declared one; the outputs keep the live
    state (No Storage, unknown), so the drift stays visible."""
    inputs = {k: props[k] for k in INPUT_KEYS if props.get(k) is not None and k != "region"}
    region = declared_region({"region": live_region}) or declared_region(props)
    if region is not None:
        inputs["region"] = region
    return inputs, region


# -- gone, or not visible ----------------------------------------------------------------------------


def confirmed_gone(number_id: str, waba_id: str | None, listed: Iterable[str] | None) -> bool:
    """Gone only when the number's business account, visible to this token (``listed`` is its
    numbers; None: the account is not visible either), no longer lists it."""
    return bool(waba_id) and listed is not None and number_id not in set(listed)


# -- the configuration saved in state ----------------------------------------------------------------


def token_from_state(number_id: str, error: str) -> str:
    """Meta rejected the credentials of a call that may run on the configuration saved in state."""
    return (
        f"whatsapp {number_id}: {error}. `pulumi refresh`, `pulumi destroy` and the deletes of a program that "
        "declares no number run on the configuration saved in state, not on the current stack config, so a "
        "token or app secret changed since it was saved is not used yet. Save the current configuration first: "
        "`pulumi refresh --run-program` or `pulumi destroy --run-program` (they save it; not `destroy --refresh "
        "--run-program`, whose refresh still runs on the saved configuration), or `pulumi up` while "
        "the program declares at least one number. A program that declares no number saves nothing: declare "
        "one number again, run `pulumi up`, then remove it.")
