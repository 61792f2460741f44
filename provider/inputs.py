"""Validating and normalising a resource's declared inputs: one set of rules for ``check``,
the stack program and the CLI. Pure: no network, no Pulumi, no clock of its own (callers pass
``today``, the day change windows are checked from).

``validate`` returns the inputs as a dict, with Pulumi's unknown values passed through (what
``check`` answers during preview); ``declare`` and ``from_stack_entry`` return a ``Declaration``.
The names and spellings of the inputs are ``declaration``'s schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping

from . import schedule
from .declaration import INPUT_KEYS, ON_DELETE, STACK_KEYS, STACK_ONLY_KEYS, Declaration
from .regions import InvalidRegion, normalize_region
from .schedule import WindowError

_ASCII_DIGITS = frozenset("0123456789")


def is_ascii_digits(value: object, length: int | None = None) -> bool:
    """Whether ``value`` is a string of ASCII digits 0-9 only, matched whole (``length`` of them, if given).

    The one digit rule for IDs, PINs and codes. ``str.isdigit`` accepts ``１２３４５６`` and ``²``, and
    ``^[0-9]+$`` lets a trailing newline through: Meta rejects both, after a deregister has run.
    """
    if not isinstance(value, str) or not value or (length is not None and len(value) != length):
        return False
    return all(char in _ASCII_DIGITS for char in value)


def is_pin(value: object) -> bool:
    """The two-step verification PIN rule, for inputs and preflight alike: six ASCII digits, whole."""
    return is_ascii_digits(value, 6)


@dataclass(frozen=True)
class Failure:
    property: str
    reason: str

    def __str__(self) -> str:
        return f"{self.property}: {self.reason}"


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _never(_value: Any) -> bool:
    return False


def has_unknown(value: Any, is_unknown: Callable[[Any], bool]) -> bool:
    """Whether ``value`` or anything inside it is a value not known yet (a preview's computed input)."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(item, is_unknown) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(item, is_unknown) for item in value)
    return False


def validate(raw: Mapping[str, Any], *, today: date, is_unknown: Callable[[Any], bool] = _never
             ) -> tuple[dict[str, Any], list[Failure]]:
    """Return the normalised inputs and every problem found. Values for which ``is_unknown`` holds
    (Pulumi's placeholders during preview) are passed through unchecked."""
    out: dict[str, Any] = {}
    failures: list[Failure] = []

    def fail(prop: str, reason: str) -> None:
        failures.append(Failure(prop, reason))

    for key, value in raw.items():
        if key not in INPUT_KEYS:
            fail(key, f"unknown input; the inputs are {', '.join(INPUT_KEYS)}")
    pid = raw.get("phone_number_id")
    if is_unknown(pid):
        out["phone_number_id"] = pid
    elif isinstance(pid, int) and not isinstance(pid, bool) and is_ascii_digits(str(pid)):
        out["phone_number_id"] = str(pid)  # a YAML number; a negative one fails below
    elif not is_ascii_digits(pid):
        shown = "missing" if pid in (None, "") else repr(pid)
        fail("phone_number_id", f"must be the Graph API phone number ID, digits only with no spaces "
                                f"(e.g. 106540352242922; WhatsApp Manager > Phone numbers shows it), got {shown}")
    else:
        out["phone_number_id"] = pid

    region = raw.get("region")
    if is_unknown(region):
        out["region"] = region
    else:
        try:
            out["region"] = normalize_region(region)
        except InvalidRegion as exc:
            fail("region", str(exc))

    pin = raw.get("pin")
    if is_unknown(pin):
        out["pin"] = pin
    elif pin is not None:
        text = str(pin) if isinstance(pin, int) and not isinstance(pin, bool) else pin
        if not is_pin(text):
            # never echo the value: it is a secret, even when it is wrong
            fail("pin", "must be exactly 6 digits (the number's two-step verification PIN); "
                        "quote it in YAML so leading zeros survive")
        else:
            out["pin"] = text

    for key in ("enforce_pin", "allow_cutover_on_create"):
        value = raw.get(key)
        if is_unknown(value):
            out[key] = value
        elif value is None:
            out[key] = False
        elif _bool(value) is None:
            fail(key, f"must be true or false, got {value!r}")
        else:
            out[key] = _bool(value)

    on_delete = raw.get("on_delete")
    if is_unknown(on_delete):
        out["on_delete"] = on_delete
    elif on_delete is None:
        out["on_delete"] = "retain"
    elif not isinstance(on_delete, str) or on_delete.strip().lower() not in ON_DELETE:
        fail("on_delete", f"must be 'retain' (default: destroy leaves the number as it is) or "
                          f"'disable' (destroy turns local storage off), got {on_delete!r}")
    else:
        out["on_delete"] = on_delete.strip().lower()

    waba = raw.get("waba_id")
    if is_unknown(waba) or waba is None:
        out["waba_id"] = waba
    else:
        text = str(waba) if isinstance(waba, int) and not isinstance(waba, bool) else waba
        if not is_ascii_digits(text):
            fail("waba_id", f"must be the WhatsApp Business Account ID, digits only, got {waba!r}")
        else:
            out["waba_id"] = text

    windows = raw.get("cutover_windows")
    if is_unknown(windows) or (isinstance(windows, list) and any(map(is_unknown, windows))):
        out["cutover_windows"] = windows
    elif windows is not None:
        try:
            # stored as normalised text, so that an echo compares equal however it was spelled
            out["cutover_windows"] = list(schedule.normalised(windows, setting="cutover_windows", today=today) or ())
        except WindowError as exc:
            fail("cutover_windows", f"{exc}")

    blackouts = raw.get("cutover_blackouts")
    if has_unknown(blackouts, is_unknown):
        out["cutover_blackouts"] = blackouts
    elif blackouts is not None:
        try:
            # stored in one spelling (blackouts.canonical), so that an echo compares equal however written
            out["cutover_blackouts"] = schedule.blackouts_normalised(blackouts, setting="cutover_blackouts")
        except WindowError as exc:
            fail("cutover_blackouts", f"{exc}")

    if out.get("enforce_pin") is True and "pin" not in out and not is_unknown(pin):
        fail("pin", "enforce_pin sets the number's PIN to `pin`, so `pin` is required with it")
    return out, failures


def declare(raw: Mapping[str, Any], *, today: date) -> tuple[Declaration | None, list[Failure]]:
    """The declaration, or None and every problem found."""
    inputs, failures = validate(raw, today=today)
    return (None if failures else Declaration.from_inputs(inputs)), failures


def from_stack_entry(number_id: str, entry: Any, *, today: date) -> tuple[Declaration | None, list[Failure]]:
    """One ``phoneNumbers`` entry of a stack file (camelCase) as a declaration, or every problem."""
    where = f'phoneNumbers["{number_id}"]'
    if not isinstance(entry, Mapping):
        return None, [Failure(where, "must be a map with at least `region`, e.g. {region: BR, pin: ...}")]
    raw: dict[str, Any] = {"phone_number_id": number_id}
    failures: list[Failure] = []
    for key, value in entry.items():
        if key in STACK_ONLY_KEYS:
            continue
        name = STACK_KEYS.get(key) or (key if key in INPUT_KEYS and key != "phone_number_id" else None)
        if name is None:
            failures.append(Failure(f"{where}.{key}", f"unknown key; use {', '.join([*STACK_KEYS, *STACK_ONLY_KEYS])}"))
            continue
        raw[name] = value
    if "region" not in raw:
        failures.append(Failure(f"{where}.region", "is required: a region code such as BR, or DEFAULT for "
                                                   "Meta's default storage (turning local storage off must be written down)"))
        return None, failures
    declaration, problems = declare(raw, today=today)
    failures.extend(Failure(f"{where}.{p.property}", p.reason) for p in problems)
    return (None if failures else declaration), failures
