"""Reading a stack's declarations from the files Pulumi keeps in the repository (for the CLI).

Owns the layout of ``Pulumi.yaml`` (project name, ``stackConfigDir``, project-level config
defaults), of ``Pulumi.<stack>.yaml`` (the ``<project>:phoneNumbers`` map and the
``whatsapp:*`` keys) and of a ``pulumi stack export`` file (its numbers, and which stack and project
its URNs say it is of). Nothing here runs Pulumi or
decrypts anything: a ``secure:`` value stays an opaque ``Secure`` marker, which is enough to
know that a PIN is declared, and a secure access token must come from the environment.

Every file is read through ``files`` (regular files only, no links, inside the project, size
caps, parse errors without content). A stack file that imports Pulumi ESC environments is
refused: ``pulumi up`` merges what they set, and nothing here can see it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .config import KEYS, ProviderConfig
from .errors import ConfigurationError
from .errors import StackFileError as StackFileError  # defined in the error tree; importable from here too
from .files import STATE_FILE_LIMIT, inside, read_regular_file, read_yaml, shown
from .redact import register_pin

TYPE_TOKEN = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
NUMBERS_KEY = "phoneNumbers"


@dataclass(frozen=True)
class Secure:
    """A value Pulumi stores encrypted (``{secure: v1:...}``). Never decrypted, never printed."""

    ciphertext: str = field(repr=False)


# Stands in for a `secure:` PIN where only its presence matters (the "PIN present and 6 digits"
# rule). Never printed, never sent.
PLACEHOLDER_PIN = "000000"


def without_secrets(entry: Any) -> Any:
    """A ``phoneNumbers`` entry as the input rules should see it: a `secure:` PIN becomes a stand-in."""
    if isinstance(entry, Mapping) and isinstance(entry.get("pin"), Secure):
        return {**entry, "pin": PLACEHOLDER_PIN}
    return entry


def _mark_secure(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return Secure(str(value["secure"]))
        return {key: _mark_secure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mark_secure(item) for item in value]
    return value


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: the working directory) with a Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if any((directory / name).is_file() for name in PROJECT_FILES):
            return directory
    raise StackFileError(f"no Pulumi.yaml in {shown(here)} or above it: run this in the project, or pass -C DIR (--cwd)")


@dataclass(frozen=True)
class StackFile:
    """One stack's configuration as written in the repository (``secure:`` values as ``Secure``)."""

    project_dir: Path
    path: Path
    project: str
    stack: str
    config: Mapping[str, Any]

    @property
    def numbers_key(self) -> str:
        return f"{self.project}:{NUMBERS_KEY}"

    def phone_numbers(self) -> dict[str, Any]:
        """The raw ``phoneNumbers`` map, keyed by phone number ID as text (YAML may read IDs as ints)."""
        raw = self.config.get(self.numbers_key)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise ConfigurationError(
                f"{self.numbers_key} in {shown(self.path)} must be a map keyed by phone number ID, "
                f'e.g. "106540352242922": {{region: BR}}'
            )
        return {str(key): value for key, value in raw.items()}

    def provider_config(self, env: Mapping[str, str] | None = None) -> ProviderConfig:
        """The provider configuration, with ProviderConfig.load's rule: stack config wins over env.

        A ``secure:`` value (the token, the app secret) cannot be read here, so its environment
        variable must stand in for it. A plain value is named with this file, so that an error
        about it can say where to fix it.
        """
        env = os.environ if env is None else env
        plain: dict[str, Any] = {}
        for key, var in KEYS.values():
            value = self.config.get(key)
            if isinstance(value, Secure):
                if not env.get(var):
                    raise ConfigurationError(
                        f"{key} is encrypted (secure:) in {shown(self.path)}, and this command does not decrypt "
                        f"secrets: set {var} in the environment instead"
                    )
                continue
            if value is not None:
                plain[key] = value
        try:
            origin = self.path.relative_to(self.project_dir)
        except ValueError:
            origin = self.path
        return ProviderConfig.load(plain, env, stack_origin=str(origin))


def _project_defaults(project: str, config: Any) -> dict[str, Any]:
    """Values from Pulumi.yaml's ``config:`` block (``default:``/``value:`` or a plain scalar)."""
    out: dict[str, Any] = {}
    if not isinstance(config, Mapping):
        return out
    for key, spec in config.items():
        name = str(key) if ":" in str(key) else f"{project}:{key}"
        if isinstance(spec, Mapping):
            for field_name in ("default", "value"):  # Pulumi lets `default` win
                if field_name in spec:
                    out[name] = spec[field_name]
                    break
        elif spec is not None:
            out[name] = spec
    return out


def available_stacks(project_dir: Path) -> list[str]:
    """The stacks with a file, each name escaped: a file name in stacks/ is the pull request's text."""
    project = _read_project(project_dir)
    config_dir = _config_dir(project_dir, project)
    names = [p.name[len("Pulumi."):].rsplit(".", 1)[0] for p in config_dir.glob("Pulumi.*.y*ml")]
    return sorted(shown(name) for name in names if name)


def _config_dir(project_dir: Path, project: Mapping[str, Any]) -> Path:
    return inside(project_dir / str(project.get("stackConfigDir") or "."), project_dir, "stackConfigDir")


def _read_project(project_dir: Path) -> Mapping[str, Any]:
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.is_file() or path.is_symlink():
            data = read_yaml(path, project_dir, "the project file")
            if not isinstance(data, Mapping) or not data.get("name"):
                raise StackFileError(f"{shown(path)} has no project `name`")
            return data
    raise StackFileError(f"no Pulumi.yaml in {shown(project_dir)}")


def _esc_imports(value: Any) -> list[str]:
    """The Pulumi ESC environments a stack file's ``environment:`` imports (a list, or ``imports:``)."""
    if isinstance(value, Mapping):
        value = value.get("imports", list(value))
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, Mapping):  # `- name: {merge: false}`
            names += [str(key) for key in item]
        elif item is not None and str(item).strip():
            names.append(str(item))
    return names


def _refuse_esc(path: Path, value: Any) -> None:
    imports = _esc_imports(value)
    if not imports:
        return
    listed = ", ".join(shown(name) for name in imports)
    raise ConfigurationError(
        f"{shown(path)} imports Pulumi ESC environments (environment: {listed}): `pulumi up` merges what they "
        "set (their pulumiConfig: phoneNumbers, allowedRegions, cutoverWindows, apiVersion, graphApiUrl) into "
        "the stack config, but this command reads only the stack file and cannot see what they set, so its "
        "answer would be about another configuration. Refused: put the whatsapp:* and whatsapp-local-storage:* "
        "settings in the stack file itself (and the token in WHATSAPP_ACCESS_TOKEN), then run it again")


def _register_plain_pins(numbers: Any) -> None:
    """A PIN written in plain text in the stack file is masked wherever it would be printed."""
    if not isinstance(numbers, Mapping):
        return
    for entry in numbers.values():
        pin = entry.get("pin") if isinstance(entry, Mapping) else None
        if isinstance(pin, (str, int)) and not isinstance(pin, bool):
            register_pin(str(pin))


def load_stack(stack: str, project_dir: Path | None = None, *, missing_ok: bool = False) -> StackFile:
    """Read ``<stackConfigDir>/Pulumi.<stack>.yaml``; an ``org/project/stack`` name uses its last part.

    With ``missing_ok`` a stack without a file is the project's defaults at the path a new file
    would take (``import --write`` creates it); otherwise it is an error naming the stacks that exist.
    """
    project_dir = find_project_dir(project_dir)
    project = _read_project(project_dir)
    name = str(project["name"])
    short = stack.rsplit("/", 1)[-1]
    config_dir = _config_dir(project_dir, project)
    candidates = [config_dir / f"Pulumi.{short}.yaml", config_dir / f"Pulumi.{short}.yml"]
    path = next((p for p in candidates if p.is_file() or p.is_symlink()), None)
    if path is None and missing_ok:
        defaults = _project_defaults(name, project.get("config"))
        _register_plain_pins(defaults.get(f"{name}:{NUMBERS_KEY}"))
        return StackFile(project_dir=project_dir, path=candidates[0], project=name, stack=short,
                         config=_mark_secure(defaults))
    if path is None:
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise StackFileError(f"no stack file for stack {stack!r}: {shown(candidates[0])} does not exist "
                             f"(stacks with a file: {known})")
    data = read_yaml(path, project_dir, "the stack file") or {}
    if not isinstance(data, Mapping):
        raise StackFileError(f"{shown(path)} must be a YAML map with a `config:` key")
    stack_config = data.get("config") or {}
    if not isinstance(stack_config, Mapping):
        raise StackFileError(f"`config:` in {shown(path)} must be a map")
    _refuse_esc(path, data.get("environment"))
    merged = _project_defaults(name, project.get("config"))
    merged.update({str(key): value for key, value in stack_config.items()})
    _register_plain_pins(merged.get(f"{name}:{NUMBERS_KEY}"))
    return StackFile(project_dir=project_dir, path=path, project=name, stack=short, config=_mark_secure(merged))


@dataclass(frozen=True)
class StateEntry:
    """One PhoneNumberStorage of a state export: its outputs, and when Pulumi last changed it."""

    outputs: Mapping[str, Any]
    modified: str | None = None  # the resource's `modified` time in the export (RFC 3339), if any
    urn: str | None = None  # the resource's URN (what `pulumi up --target` names)


@dataclass(frozen=True)
class StateFile:
    """A ``pulumi stack export`` file: which stack and project it is of, and its numbers."""

    path: Path
    stacks: frozenset[tuple[str, str]]  # (stack, project) pairs named by the resources' URNs
    numbers: Mapping[str, StateEntry]

    def __contains__(self, number_id: object) -> bool:
        return number_id in self.numbers

    def outputs(self, number_id: str) -> Mapping[str, Any]:
        entry = self.numbers.get(number_id)
        return entry.outputs if entry is not None else {}

    def require_stack(self, stack: StackFile) -> None:
        """Refuse an export of another stack or project: its budget and removed numbers would be wrong."""
        mine = (stack.stack, stack.project)
        others = sorted(self.stacks - {mine})
        if not others:
            return
        theirs = " and ".join(f"stack {s!r} of project {p!r}" for s, p in others)
        raise StackFileError(
            f"{shown(self.path)} is the state of {theirs}, not of stack {stack.stack!r} of project {stack.project!r} "
            f"({stack.path.name}): export this stack's state with `pulumi stack export --stack {stack.stack}`")


def _urn_stack(urn: Any) -> tuple[str, str] | None:
    """(stack, project) from ``urn:pulumi:STACK::PROJECT::TYPE::NAME``."""
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:"):
        return None
    parts = urn[len("urn:pulumi:"):].split("::")
    return (parts[0], parts[1]) if len(parts) >= 3 and parts[0] and parts[1] else None


def _text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _flag(value: Any) -> bool:
    return value is None or isinstance(value, bool)


def _texts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(item, str) for item in value))


def _whole(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _id(value: Any) -> bool:
    return _text(value) or _whole(value)


# The outputs of a PhoneNumberStorage that anything here reads, and what each must be (or null).
# A hand-edited or corrupted export (`"registration_calls": 5`, `true`, `1e400`) is refused with
# the resource and the field named, rather than failing somewhere in the plan.
OUTPUT_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "phone_number_id": (_id, "a phone number ID"),
    "region": (_text, "a region code (text)"),
    "declared_region": (_text, "a region code (text)"),
    "storage_status": (_text, "a storage status (text)"),
    "display_phone_number": (_text, "text"),
    "waba_id": (_text, "a business account ID (text)"),
    "on_delete": (_text, "retain or disable (text)"),
    "registered": (_flag, "true or false"),
    "enforce_pin": (_flag, "true or false"),
    "allow_cutover_on_create": (_flag, "true or false"),
    "applied_steps": (_texts, "a list of step names (text)"),
    "registration_calls": (_texts, "a list of timestamps (text)"),
    "cutover_windows": (_texts, "a list of change windows (text)"),
    "schema_version": (_whole, "a whole number"),
}


def _kind(value: Any) -> str:
    """What a JSON value is, without its content (which may be anything, of any size)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else ("a map" if isinstance(value, Mapping) else type(value).__name__)


def _check_outputs(path: Path, resource: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    urn = resource.get("urn")
    name = shown(urn) if isinstance(urn, str) else f"with id {shown(resource.get('id'))}"
    fields = {**{key: (outputs.get(key), rule) for key, rule in OUTPUT_TYPES.items()},
              "modified": (resource.get("modified"), (_text, "an RFC 3339 time (text)"))}
    for key, (value, (valid, expected)) in fields.items():
        if valid(value):
            continue
        where = f"outputs.{key}" if key != "modified" else key
        if valid is _texts and isinstance(value, list):  # name the element that is wrong
            index = next(i for i, item in enumerate(value) if not isinstance(item, str))
            where, value = f"{where}[{index}]", value[index]
        raise ConfigurationError(
            f"{shown(path)}: resource {name} has {where} = {_kind(value)}, which must be {expected}: the file is "
            "not what `pulumi stack export` writes (edited or corrupted); export the stack's state again")


def load_state(path: Path) -> StateFile:
    """Every PhoneNumberStorage in a ``pulumi stack export`` file, by phone number ID.

    The file may be anywhere its operator names (the workflows keep it in ``$RUNNER_TEMP``), but
    it must be a regular file, not a link, of at most ``STATE_FILE_LIMIT`` bytes.
    """
    path = Path(path)
    raw = read_regular_file(path, STATE_FILE_LIMIT, "the state file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{shown(path)} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:  # its message names the line and column, never the content
        raise StackFileError(f"{shown(path)} is not JSON from `pulumi stack export`: {exc.msg} at line "
                             f"{exc.lineno}, column {exc.colno}") from None
    except ValueError:
        raise StackFileError(f"{shown(path)} is not JSON from `pulumi stack export`") from None
    except RecursionError:
        raise StackFileError(f"{shown(path)} is nested too deeply to be from `pulumi stack export`") from None
    deployment = data.get("deployment") if isinstance(data, Mapping) else None
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    if not isinstance(resources, list):
        raise StackFileError(f"{shown(path)} has no deployment.resources: pass the output of `pulumi stack export`")
    stacks: set[tuple[str, str]] = set()
    found: dict[str, StateEntry] = {}
    for resource in resources:
        if not isinstance(resource, Mapping):
            continue
        owner = _urn_stack(resource.get("urn"))
        if owner:
            stacks.add(owner)
        if resource.get("type") != TYPE_TOKEN or resource.get("delete"):
            continue
        outputs = resource.get("outputs") or {}
        if not isinstance(outputs, Mapping):
            raise StackFileError(f"{shown(path)}: the outputs of {shown(resource.get('urn'))} are not a map: pass the "
                                 "output of `pulumi stack export`")
        _check_outputs(path, resource, outputs)
        number_id = outputs.get("phone_number_id") or resource.get("id")
        if isinstance(number_id, (str, int)) and not isinstance(number_id, bool) and number_id != "":
            modified = resource.get("modified")
            urn = resource.get("urn")
            found[str(number_id)] = StateEntry(dict(outputs), modified if isinstance(modified, str) else None,
                                               urn if isinstance(urn, str) else None)
    return StateFile(path, frozenset(stacks), found)
