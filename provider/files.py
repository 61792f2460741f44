"""Reading a file that someone else wrote (a pull request, an operator), safely, for the CLI.

The stack file comes from a pull request and the state file from wherever the operator points,
and both are read by a job that holds the Meta token. So a file is read only when it is a
regular file that is not a symbolic link (a stack file linked to ``~/.aws/credentials`` on a
self-hosted runner is never opened), a project or stack file only inside the project directory,
and only up to a size cap, checked before a byte is parsed. A parse error says where (line and
column) and never quotes the file; every path or name in a message is escaped (``shown``).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from . import escape
from .errors import StackFileError

MAX_DEPTH = 64
# Size caps, checked before parsing: PyYAML reads about 1 MB a second, and no stack file of a real
# fleet comes near 8 MiB; a `pulumi stack export` of thousands of resources stays far below 64 MiB.
STACK_FILE_LIMIT = 8 * 1024 * 1024
STATE_FILE_LIMIT = 64 * 1024 * 1024


def shown(path: object) -> str:
    """A path (or a name from one) inside a message: a file name can hold a line break or ``##[``."""
    return escape.text(path)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _refuse_link(path: Path, what: str) -> None:
    if path.is_symlink():
        raise StackFileError(f"{what} {shown(path)} is a symbolic link, which is not followed: use the file itself")


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file, not a symbolic link, of at most ``limit`` bytes.

    Opened without following a link (``O_NOFOLLOW``) and without blocking on a FIFO
    (``O_NONBLOCK``), then checked on the open descriptor, so nothing can swap the file between
    the check and the read; the size is checked before a byte is parsed.
    """
    _refuse_link(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise StackFileError(f"cannot read {what} {shown(path)}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise StackFileError(f"{what} {shown(path)} is not a regular file: use the file itself")
        if info.st_size > limit:
            raise StackFileError(f"{what} {shown(path)} is {_mib(info.st_size)}, over the {_mib(limit)} limit")
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise StackFileError(f"{what} {shown(path)} is over the {_mib(limit)} limit")
    return data


def inside(path: Path, project_dir: Path, what: str) -> Path:
    """``path``, refused when it resolves outside the project directory (``stackConfigDir: ..``)."""
    try:
        path.resolve().relative_to(project_dir.resolve())
    except ValueError:
        raise StackFileError(f"{what} {shown(path)} is outside the project directory {shown(project_dir)}: "
                             "Pulumi files are read only from inside the project") from None
    return path


# PyYAML quotes what it found (a character, an anchor's name, a piece of the file): kept are only
# its own token names (`'<block end>'`) and the one syntax character it says it expected.
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_OWN_WORDS = re.compile(r"'(<[a-z ]+>|:)'")


def _problem(text: object) -> str:
    return _QUOTED.sub(lambda m: m.group() if _OWN_WORDS.fullmatch(m.group()) else "(not shown)", str(text or ""))


def _where(mark: Any) -> str:
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


def yaml_error(path: Path, exc: Exception) -> StackFileError:
    """A YAML error as a message with the line and column, never a snippet of the file.

    PyYAML's own message quotes the lines around the error: for a stack file that is really a
    link to a credentials file (refused anyway), or a secret pasted in the wrong place, that
    would print it into a CI log.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = _problem(getattr(exc, "problem", None))
    return StackFileError(f"{shown(path)} is not valid YAML{_where(mark)}" + (f": {problem}" if problem else ""))


def _refuse_aliases(text: str, path: Path) -> None:
    """Refuse YAML aliases (``*name``, ``<<: *name``) and deep nesting by reading the event stream,
    which expands nothing.

    Pulumi writes no aliases, and a few hundred bytes of nested aliases expand into billions of
    nodes (a "billion laughs"): refused before anything is built, so such a file costs nothing.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise StackFileError(f"{shown(path)}{_where(event.start_mark)}: YAML aliases (*name) are not accepted "
                                 "in Pulumi files: write the value out in full")
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:  # PyYAML's scanner slows down quadratically with flow nesting
                raise StackFileError(f"{shown(path)}{_where(event.start_mark)}: nested deeper than {MAX_DEPTH} "
                                     "levels, which no Pulumi file is")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{shown(path)} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def read_yaml(path: Path, project_dir: Path, what: str) -> Any:
    _refuse_link(path, what)  # said first: a link is refused wherever it points
    text = decode(read_regular_file(inside(path, project_dir, what), STACK_FILE_LIMIT, what), path)
    try:
        _refuse_aliases(text, path)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    except RecursionError:
        raise StackFileError(f"{shown(path)} is nested too deeply to be a Pulumi file") from None
