"""Reading a stack's declarations from the files Pulumi keeps in the repository (for the CLI).

Owns the layout of ``Pulumi.yaml`` (project name, ``stackConfigDir``, project-level config
defaults), of ``Pulumi.<stack>.yaml`` (the ``<project>:phoneNumbers`` map and the
``whatsapp:*`` keys) and of a ``pulumi stack export`` file (its numbers, and which stack and project
its URNs say it is of). Nothing here runs Pulumi or
decrypts anything: a ``secure:`` value stays an opaque ``Secure`` marker, which is enough to
know that a PIN is declared, and a secure access token must come from the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .config import KEYS, ProviderConfig
from .errors import ConfigurationError
from .errors import StackFileError as StackFileError  # defined in the error tree; importable from here too

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


MAX_DEPTH = 64


def _refuse_aliases(text: str) -> None:
    """Refuse YAML aliases (``*name``, ``<<: *name``) and deep nesting by reading the event stream,
    which expands nothing.

    Pulumi writes no aliases, and a few hundred bytes of nested aliases expand into billions of
    nodes (a "billion laughs"): refused before anything is built, so such a file costs nothing.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not accepted in Pulumi files: write the value "
                            "out in full", event.start_mark)
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:  # PyYAML's scanner slows down quadratically with flow nesting
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels, which no Pulumi file is", event.start_mark)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        _refuse_aliases(text)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise StackFileError(f"{path} is nested too deeply to be a Pulumi file") from None
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise StackFileError(f"cannot read {path}: {exc.strerror}") from None


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: the working directory) with a Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if any((directory / name).is_file() for name in PROJECT_FILES):
            return directory
    raise StackFileError(f"no Pulumi.yaml in {here} or above it: run this in the project, or pass --project-dir")


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
                f"{self.numbers_key} in {self.path} must be a map keyed by phone number ID, "
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
                        f"{key} is encrypted (secure:) in {self.path}, and this command does not decrypt "
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
    project = _read_project(project_dir)
    config_dir = project_dir / str(project.get("stackConfigDir") or ".")
    names = [p.name[len("Pulumi."):].rsplit(".", 1)[0] for p in config_dir.glob("Pulumi.*.y*ml")]
    return sorted(name for name in names if name)


def _read_project(project_dir: Path) -> Mapping[str, Any]:
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.is_file():
            data = _read_yaml(path)
            if not isinstance(data, Mapping) or not data.get("name"):
                raise StackFileError(f"{path} has no project `name`")
            return data
    raise StackFileError(f"no Pulumi.yaml in {project_dir}")


def load_stack(stack: str, project_dir: Path | None = None, *, missing_ok: bool = False) -> StackFile:
    """Read ``<stackConfigDir>/Pulumi.<stack>.yaml``; an ``org/project/stack`` name uses its last part.

    With ``missing_ok`` a stack without a file is the project's defaults at the path a new file
    would take (``import --write`` creates it); otherwise it is an error naming the stacks that exist.
    """
    project_dir = find_project_dir(project_dir)
    project = _read_project(project_dir)
    name = str(project["name"])
    short = stack.rsplit("/", 1)[-1]
    config_dir = project_dir / str(project.get("stackConfigDir") or ".")
    candidates = [config_dir / f"Pulumi.{short}.yaml", config_dir / f"Pulumi.{short}.yml"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None and missing_ok:
        defaults = _project_defaults(name, project.get("config"))
        return StackFile(project_dir=project_dir, path=candidates[0], project=name, stack=short,
                         config=_mark_secure(defaults))
    if path is None:
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise StackFileError(f"no stack file for stack {stack!r}: {candidates[0]} does not exist "
                             f"(stacks with a file: {known})")
    data = _read_yaml(path) or {}
    if not isinstance(data, Mapping):
        raise StackFileError(f"{path} must be a YAML map with a `config:` key")
    stack_config = data.get("config") or {}
    if not isinstance(stack_config, Mapping):
        raise StackFileError(f"`config:` in {path} must be a map")
    merged = _project_defaults(name, project.get("config"))
    merged.update({str(key): value for key, value in stack_config.items()})
    return StackFile(project_dir=project_dir, path=path, project=name, stack=short, config=_mark_secure(merged))


@dataclass(frozen=True)
class StateEntry:
    """One PhoneNumberStorage of a state export: its outputs, and when Pulumi last changed it."""

    outputs: Mapping[str, Any]
    modified: str | None = None  # the resource's `modified` time in the export (RFC 3339), if any


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
            f"{self.path} is the state of {theirs}, not of stack {stack.stack!r} of project {stack.project!r} "
            f"({stack.path.name}): export this stack's state with `pulumi stack export --stack {stack.stack}`")


def _urn_stack(urn: Any) -> tuple[str, str] | None:
    """(stack, project) from ``urn:pulumi:STACK::PROJECT::TYPE::NAME``."""
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:"):
        return None
    parts = urn[len("urn:pulumi:"):].split("::")
    return (parts[0], parts[1]) if len(parts) >= 3 and parts[0] and parts[1] else None


def load_state(path: Path) -> StateFile:
    """Every PhoneNumberStorage in a ``pulumi stack export`` file, by phone number ID."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StackFileError(f"cannot read the state file {path}: {exc.strerror}") from None
    except ValueError as exc:  # UnicodeDecodeError is one
        raise StackFileError(f"{path} is not JSON from `pulumi stack export`: {exc}") from None
    except RecursionError:
        raise StackFileError(f"{path} is nested too deeply to be from `pulumi stack export`") from None
    deployment = data.get("deployment") if isinstance(data, Mapping) else None
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    if not isinstance(resources, list):
        raise StackFileError(f"{path} has no deployment.resources: pass the output of `pulumi stack export`")
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
            raise StackFileError(f"{path}: the outputs of {resource.get('urn')!r} are not a map: pass the "
                                 "output of `pulumi stack export`")
        number_id = outputs.get("phone_number_id") or resource.get("id")
        if isinstance(number_id, (str, int)) and not isinstance(number_id, bool) and number_id != "":
            modified = resource.get("modified")
            found[str(number_id)] = StateEntry(dict(outputs), modified if isinstance(modified, str) else None)
    return StateFile(path, frozenset(stacks), found)
