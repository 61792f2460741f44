"""Where an output comes from: when the numbers were read, which code and stack file, which API version.

A plan comment on a pull request outlives the push that made it; a reviewer must be able to tell
a stale one. Every ``plan``, ``drift`` and ``report`` therefore starts with ``Provenance.lines()``: the
read time (UTC), the commit of the code and of the stack file where git knows them, and the Graph
API version requested and the one Meta serves for it. Outputs that must stay machine-only (JSON,
CSV, a list of targets) carry it as data or print it on stderr.

Git is asked only where a ``.git`` is found above the path, with a short timeout, and any failure
(no git, no repository, a file never committed) is "unknown": the output never depends on it.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import __version__
from ..config import ProviderConfig
from ..redact import redact
from ..safety import format_time
from ..stackfile import StackFile

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Provenance:
    read_at: datetime
    api_version: str  # as configured
    graph_api_url: str  # redacted
    served_version: str  # what Meta runs for it today (a retired version is served as the oldest live one)
    code_commit: str | None  # None: not in a git repository, or git could not say
    stack_file: str  # relative to the project
    stack_commit: str | None  # the last commit that changed the stack file
    stack_uncommitted: bool | None  # the stack file differs from that commit; None: git could not say

    def lines(self) -> list[str]:
        """The header, one fact a line, the same in every format (a renderer escapes nothing here:
        commits are hex, versions are parsed, the stack file label is escaped by the caller)."""
        served = "" if self.served_version == self.api_version else f", served by Meta as {self.served_version}"
        return [
            f"Read at: {format_time(self.read_at)} (UTC)",
            f"Code: python -m provider {__version__}, commit {self.code_commit or 'unknown (not a git checkout)'}",
            f"Stack file: {self.stack_file}, {self._stack_commit_text()}",
            f"Graph API: {self.api_version} at {self.graph_api_url}{served}",
        ]

    def _stack_commit_text(self) -> str:
        if self.stack_commit is None:
            return "commit unknown (not in a git repository, or never committed)"
        changes = {True: " with uncommitted changes", False: "", None: " (uncommitted changes unknown)"}
        return f"commit {self.stack_commit}{changes[self.stack_uncommitted]}"

    def as_json(self) -> dict[str, object]:
        return {"read_at": format_time(self.read_at), "code_commit": self.code_commit,
                "stack_file_commit": self.stack_commit, "stack_file_uncommitted": self.stack_uncommitted,
                "api_version": self.api_version, "served_api_version": self.served_version}


def of(stack: StackFile, config: ProviderConfig, read_at: datetime) -> Provenance:
    """The provenance of a read made at ``read_at`` of ``stack`` through ``config``."""
    path = stack.path
    commit = _stack_commit(path)
    return Provenance(read_at, config.api_version, redact(config.graph_api_url), config.served_version, _code_commit(),
                      path.relative_to(stack.project_dir).as_posix(), commit,
                      commit is not None and _differs(path))


def _repository(path: Path) -> Path | None:
    """The directory holding ``.git`` above ``path``: no git process where there is no repository."""
    for directory in (path, *path.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT, env=env, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _commit_of(directory: Path, *args: str) -> str | None:
    done = _git(directory, *args)
    if done is None or done.returncode != 0:
        return None
    out = done.stdout.strip()
    return out if _COMMIT.fullmatch(out) else None


@functools.lru_cache(maxsize=1)
def _code_commit() -> str | None:
    """The commit of the code that runs (the checkout ``provider/`` is in); fixed for the process.
    Only when git tracks this very file: an installed package inside someone's repository (a
    `.venv` in their infrastructure checkout) is not that repository's code."""
    here = Path(__file__).resolve().parent
    if _repository(here) is None:
        return None
    tracked = _git(here, "ls-files", "--error-unmatch", "--", Path(__file__).name)
    return _commit_of(here, "rev-parse", "HEAD") if tracked is not None and tracked.returncode == 0 else None


def _stack_commit(path: Path) -> str | None:
    directory = path.resolve().parent
    if _repository(directory) is None:
        return None
    return _commit_of(directory, "log", "-1", "--format=%H", "--", path.name)


def _differs(path: Path) -> bool | None:
    """Whether the stack file differs from HEAD; None when git could not say (not "changed")."""
    done = _git(path.resolve().parent, "diff", "--quiet", "HEAD", "--", path.name)
    return None if done is None or done.returncode not in (0, 1) else done.returncode == 1
