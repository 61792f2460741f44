"""What a resource declares for its number, as one typed value, and the schema every spelling of
it derives from. Pure: no network, no Pulumi, no environment.

The inputs are written once, as ``Declaration``'s fields; each field's metadata (``Spec``) says how
a stack file spells it, whether it is secret, and which output echoes it. From them derive the
input keys (``INPUT_KEYS``: ``check``, the outputs' echo), the stack-file keys (``STACK_KEYS``), how
a problem names an input for a stack-file reader (``STACK_SPELLING``), the secret inputs, and the
stack program's arguments (``program_arguments``). The outputs that are not inputs are listed once
too (``OUTPUT_ONLY_KEYS``). ``PhoneNumberStorageArgs`` (``resource.py``) and the policy pack's copy
(``policy/__main__.py``) stay hand-written for editors and for a pack that cannot import this
package; tests prove them equal to this schema.

A ``Declaration`` is built by validation (``inputs.declare``) or, for a Delete, from the outputs in
state (``delete_target``); nothing else makes one from a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from .regions import DEFAULT

_META = "whatsapp"


@dataclass(frozen=True)
class Spec:
    """How one input is written and kept: its stack-file key (None: not written in an entry, the
    phone number ID is the entry's key), whether it is secret, and the output that echoes it."""

    stack: str | None
    secret: bool = False
    echo: str | None = None  # the output key echoing it, when not its own name


def _spec(stack: str | None, *, secret: bool = False, echo: str | None = None) -> Mapping[str, Spec]:
    return {_META: Spec(stack, secret, echo)}


@dataclass(frozen=True)
class Declaration:
    """One PhoneNumberStorage's inputs, normalised (docs/reference.md, "Argument reference")."""

    phone_number_id: str = field(metadata=_spec(None))
    region: str = field(metadata=_spec("region", echo="declared_region"))
    pin: str | None = field(default=None, repr=False, metadata=_spec("pin", secret=True))
    enforce_pin: bool = field(default=False, metadata=_spec("enforcePin"))
    allow_cutover_on_create: bool = field(default=False, metadata=_spec("allowCutoverOnCreate"))
    on_delete: str = field(default="retain", metadata=_spec("onDelete"))
    waba_id: str | None = field(default=None, metadata=_spec("wabaId"))
    cutover_windows: tuple[str, ...] | None = field(default=None, metadata=_spec("cutoverWindows"))
    # each blackout as its canonical map (``blackouts.canonical``): from, to, zone, reason
    cutover_blackouts: tuple[Mapping[str, str], ...] | None = field(default=None, metadata=_spec("cutoverBlackouts"))

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any]) -> "Declaration":
        """From inputs that passed validation (``inputs.validate``, no failure, no unknown)."""
        windows, blackouts = inputs.get("cutover_windows"), inputs.get("cutover_blackouts")
        return cls(phone_number_id=str(inputs["phone_number_id"]), region=str(inputs["region"]),
                   pin=inputs.get("pin"), enforce_pin=bool(inputs.get("enforce_pin")),
                   allow_cutover_on_create=bool(inputs.get("allow_cutover_on_create")),
                   on_delete=str(inputs.get("on_delete") or "retain"), waba_id=inputs.get("waba_id"),
                   cutover_windows=None if windows is None else tuple(windows),
                   cutover_blackouts=None if blackouts is None else tuple(dict(b) for b in blackouts))

    def as_inputs(self) -> dict[str, Any]:
        """The inputs as ``inputs.validate`` returns them: every input by its name, except an
        absent ``pin``, ``cutover_windows`` or ``cutover_blackouts`` (which a stack entry may leave out)."""
        values = {name: _plain(getattr(self, name)) for name in INPUT_KEYS}
        return {name: value for name, value in values.items()
                if value is not None or name not in OPTIONAL_KEYS}

    def echoes(self) -> dict[str, Any]:
        """Every output that echoes an input (``region``'s echo is ``declared_region``), None where absent."""
        return {ECHO[name]: _plain(getattr(self, name)) for name in INPUT_KEYS}

    def program_arguments(self, secret: Callable[[Any], Any]) -> dict[str, Any]:
        """``PhoneNumberStorageArgs``' keyword arguments, secret inputs wrapped with ``secret``."""
        values = {name: _plain(getattr(self, name)) for name in INPUT_KEYS}
        return {name: (secret(value) if name in SECRET_KEYS and value is not None else value)
                for name, value in values.items()}

    def with_windows(self, windows: tuple[str, ...] | None) -> "Declaration":
        return replace(self, cutover_windows=windows)

    def with_blackouts(self, blackouts: tuple[Mapping[str, str], ...] | None) -> "Declaration":
        return replace(self, cutover_blackouts=blackouts)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [dict(item) if isinstance(item, Mapping) else item for item in value]
    return value


_SPECS: dict[str, Spec] = {f.name: f.metadata[_META] for f in fields(Declaration)}

INPUT_KEYS: tuple[str, ...] = tuple(_SPECS)
SECRET_KEYS: frozenset[str] = frozenset(name for name, spec in _SPECS.items() if spec.secret)
ECHO: dict[str, str] = {name: spec.echo or name for name, spec in _SPECS.items()}
# camelCase key in a stack file's phoneNumbers entry -> input name
STACK_KEYS: dict[str, str] = {spec.stack: name for name, spec in _SPECS.items() if spec.stack is not None}
# input name -> how a stack file spells it, for problems shown to stack-file readers
STACK_SPELLING: dict[str, str] = {name: stack for stack, name in STACK_KEYS.items()}
STACK_ONLY_KEYS = ("name",)  # an entry's label for people; never an input
ON_DELETE = ("retain", "disable")
OPTIONAL_KEYS = ("pin", "cutover_windows", "cutover_blackouts")  # left out of the inputs when absent

# Outputs that are not inputs (``region``, the live region, is both: its input is echoed as
# ``declared_region``).
OUTPUT_ONLY_KEYS: tuple[str, ...] = ("storage_status", "registered", "display_phone_number", "applied_steps",
                                     "registration_calls", "declared_region", "schema_version")


def delete_target(number_id: str, outputs: Mapping[str, Any]) -> Declaration:
    """What a Delete converges its number to when ``on_delete: disable`` applies: DEFAULT and
    registered, with the PIN, ``enforce_pin``, ``on_delete``, change windows and blackouts stored in
    state (a Delete gets only the outputs). The one place it is built, for the provider and the CLI
    alike. The stored windows and blackouts are kept as written: they are parsed only when the
    Delete makes a call."""
    pin, waba, mode, windows, blackouts = (outputs.get(key) for key in ("pin", "waba_id", "on_delete",
                                                                          "cutover_windows", "cutover_blackouts"))
    return Declaration(
        phone_number_id=number_id, region=DEFAULT,
        pin=None if pin is None else str(pin),
        enforce_pin=bool(outputs.get("enforce_pin")),
        on_delete=mode.strip().lower() if isinstance(mode, str) and mode.strip() else "retain",
        waba_id=None if waba is None else str(waba),
        cutover_windows=None if windows is None else tuple(map(str, windows if isinstance(windows, (list, tuple))
                                                                else [windows])),
        cutover_blackouts=None if blackouts is None else tuple(
            dict(item) if isinstance(item, Mapping) else item  # a malformed one is the parser's to explain
            for item in (blackouts if isinstance(blackouts, (list, tuple)) else [blackouts])))
