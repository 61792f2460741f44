"""The stack file: reading it before any call, merging entries into it, writing it atomically.

``merge`` is pure (text in, text out). It edits with ruamel.yaml's round-trip mode, so comments,
key order and quoting survive, and then re-reads the result with PyYAML (what the CLI and this
package read): it must equal the old config plus exactly the new entries, or nothing is written.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from ..errors import StackFileError
from ..stackfile import StackFile, load_stack
from .proposal import Proposal


@dataclass(frozen=True)
class Layout:
    """The indentation a file already uses (ruamel re-emits every line with it)."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2

    @classmethod
    def of(cls, text: str) -> "Layout":
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        mapping = next((len(line) - len(line.lstrip(" ")) for line in lines if line.startswith(" ")), 2)
        mapping = mapping if 1 <= mapping <= 8 else 2
        try:
            _, sequence, offset = load_yaml_guess_indent(text)
        except RuamelYAMLError:
            sequence = offset = None
        if offset is None or sequence is None:  # no block sequence: a sequence added later looks like this
            return cls(mapping, mapping + 2, mapping)
        return cls(mapping, sequence, offset)

    def round_trip(self) -> YAML:
        rt = YAML()  # round-trip mode: comments, key order and quoting survive
        rt.preserve_quotes = True
        rt.indent(mapping=self.mapping, sequence=self.sequence, offset=self.offset)
        rt.width = 4096
        return rt


def add_entries(numbers: CommentedMap, proposals: Sequence[Proposal], layout: Layout = Layout()) -> CommentedMap:
    """Append one entry per proposal, a note as an end-of-line comment on its key."""
    for proposal in proposals:
        number_id = proposal.found.number_id
        key = DoubleQuotedScalarString(number_id)  # quoted, so YAML keeps the ID text
        entry = CommentedMap()
        for name, value in proposal.entry.items():
            entry[name] = DoubleQuotedScalarString(value) if name == "wabaId" or _misread(value) else value
        numbers[key] = entry
        if proposal.notes:
            # An explicit column: ruamel's own guess compares keys, and IDs written unquoted are ints.
            column = 2 * layout.mapping + len(number_id) + 5
            numbers.yaml_add_eol_comment("# " + "; ".join(proposal.notes), key, column=column)
    return numbers


def _misread(value: str) -> bool:
    """Whether a YAML 1.1 reader (PyYAML, so the CLI) would read the plain text as something else:
    ruamel writes YAML 1.2, where a verified name such as ``yes`` or ``1:30`` stays text."""
    try:
        return bool(yaml.safe_load(value) != value)
    except yaml.YAMLError:
        return True


def dump(data: Any, layout: Layout = Layout()) -> str:
    buffer = io.StringIO()
    layout.round_trip().dump(data, buffer)
    return buffer.getvalue()


def parse_round_trip(text: str, path: Path) -> Any:
    try:
        return Layout().round_trip().load(text)
    except RuamelYAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from None


def merge(text: str | None, numbers_key: str, proposals: Sequence[Proposal], *, path: Path) -> str:
    """The stack file with the proposed entries added under ``config.<numbers_key>``.

    Everything already there keeps its comments, order and quoting; the result is re-read with
    PyYAML (what the CLI reads) and must equal the old config plus exactly the new entries.
    """
    text = text or ""
    newline = "\r\n" if "\r\n" in text else "\n"
    layout = Layout.of(text)
    data = parse_round_trip(text, path)
    if data is None:  # empty, or comments only: keep them and start the document after them
        fresh = CommentedMap(config=CommentedMap({numbers_key: add_entries(CommentedMap(), proposals)}))
        prefix = text.replace("\r\n", "\n")
        merged = (prefix + ("\n" if prefix and not prefix.endswith("\n") else "")) + dump(fresh)
    else:
        if not isinstance(data, CommentedMap):
            raise StackFileError(f"{path} must be a YAML map with a `config:` key")
        if data.get("config") is None:
            data["config"] = CommentedMap()
        config = data["config"]
        if not isinstance(config, CommentedMap):
            raise StackFileError(f"`config:` in {path} must be a map")
        if config.get(numbers_key) is None:
            config[numbers_key] = CommentedMap()
        numbers = config[numbers_key]
        if not isinstance(numbers, CommentedMap):
            raise StackFileError(f"{numbers_key} in {path} must be a map keyed by phone number ID")
        for node in (data, config, numbers):
            node.fa.set_block_style()  # `phoneNumbers: {}` becomes a block map as entries arrive
        add_entries(numbers, proposals, layout)
        merged = dump(data, layout)
    _check_merge(text, merged, numbers_key, proposals, path)
    return merged.replace("\n", newline) if newline != "\n" else merged


def _check_merge(before: str, after: str, numbers_key: str, proposals: Sequence[Proposal], path: Path) -> None:
    old = (yaml.safe_load(before) or {}) if before.strip() else {}
    new = yaml.safe_load(after) or {}
    expected = dict(old)
    expected_config = dict(old.get("config") or {})
    expected_numbers = dict(expected_config.get(numbers_key) or {})
    expected_numbers.update({p.found.number_id: p.entry for p in proposals})
    expected_config[numbers_key] = expected_numbers
    expected["config"] = expected_config
    if new != expected:
        raise StackFileError(f"merging into {path} would change more than the new entries; nothing written "
                             "(please report this with the file's layout)")
    lost = _comments(before) - _comments(after)
    if lost:
        raise StackFileError(f"merging into {path} would lose the comment {sorted(lost)[0]!r}; nothing written "
                             "(please report this with the file's layout)")


def _comments(text: str) -> set[str]:
    """Every comment's text (a ``#`` inside a quoted value counts too, on both sides alike)."""
    found = set()
    for line in text.splitlines():
        at = line.find("#")
        if at >= 0 and (at == 0 or line[at - 1] in " \t"):
            found.add(line[at:].strip())
    return found


def write_atomically(path: Path, text: str, expected: bytes | None) -> None:
    """Replace ``path`` with ``text`` in one rename, unless someone changed it since it was read."""
    current = path.read_bytes() if path.exists() else None
    if current != expected:
        raise StackFileError(f"{path} changed while the numbers were read; nothing written: run the import again")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, (path.stat().st_mode & 0o777) if current is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Target:
    """The stack file to merge into: its declarations, its text as read (None: to be created)."""

    stack: StackFile
    text: str | None
    raw: bytes | None

    @property
    def label(self) -> str:
        return self.stack.path.relative_to(self.stack.project_dir).as_posix()


def require_numbers_in_stack_file(target: Target) -> None:
    """Refuse to write when only Pulumi.yaml declares the numbers map.

    Pulumi takes a stack file's value of a key instead of the project's, whole (no deep merge): a
    map written into the stack file would drop every number Pulumi.yaml declares, and the next
    `pulumi up` would delete their resources.
    """
    key = target.stack.numbers_key
    if target.stack.config.get(key) is None:
        return
    own = yaml.safe_load(target.text or "") or {}
    config = own.get("config") if isinstance(own, dict) else None
    if isinstance(config, dict) and config.get(key) is not None:
        return
    raise StackFileError(
        f"{key} is declared in Pulumi.yaml (project config), not in {target.label}; writing entries to "
        f"{target.label} would replace that whole map, dropping the numbers Pulumi.yaml declares (and "
        f"`pulumi up` would delete their resources). Nothing written: move the map into {target.label} "
        "first, then import again (or run without --write and add the entries by hand)")


def load_target(stack: str, project_dir: Path | None) -> Target:
    """Read (and fully parse) the stack file before any call; a missing one is created on --write."""
    declared = load_stack(stack, project_dir, missing_ok=True)
    if not declared.path.is_file():
        return Target(declared, None, None)
    raw = declared.path.read_bytes()
    target = Target(declared, raw.decode("utf-8"), raw)
    parse_round_trip(target.text or "", declared.path)
    return target
