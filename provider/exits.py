"""What a ``python -m provider`` command answers when it ends: its exit code, and with
``--format json`` the one JSON document of a run that failed before it had a result.

One table for every command (``plan``, ``drift``, ``report``, ``import``, ``verify``, ``regions``),
one decision of which failure ends a command with which code (``exit_code_for``, used by the CLI
and by ``import``), and one error document shape for the CLI's own failures and ``import``'s
alike. Kept outside ``provider.cli`` so that ``provider.onboard`` (which the CLI imports) can use
it too. The codes are ``ExitCode`` members, so that a help text or a command's table names them
(``exits.USAGE``), never a literal that could drift from this table.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from .errors import StackFileError, UsageError


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NONCOMPLIANT = 7  # Pulumi's code for changes under --expect-no-changes


OK, ERROR, USAGE, NONCOMPLIANT = ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE, ExitCode.NONCOMPLIANT

MEANINGS: dict[ExitCode, str] = {
    OK: "ok",
    ERROR: "an error",
    USAGE: "a usage error",
    NONCOMPLIANT: "drift or non-compliance found",
}

# The failures that are the caller's arguments or files, not the run: exit 2, as argparse's own.
USAGE_ERRORS: tuple[type[BaseException], ...] = (UsageError, StackFileError)


def exit_code_for(error: BaseException) -> ExitCode:
    """The code a command ends with when ``error`` stops it: a usage error, or an error."""
    return USAGE if isinstance(error, USAGE_ERRORS) else ERROR


def summary() -> str:
    """``0 ok, 1 an error, 2 a usage error, 7 drift or non-compliance found``."""
    return ", ".join(f"{code} {meaning}" for code, meaning in MEANINGS.items())


def error_document(command: str | None, message: str, exit_code: int, **context: Any) -> str:
    """The one JSON document of a run that failed before it had a result.

    Always ``command``, ``version``, ``error`` and ``exit_code``; a command adds what a pipeline
    needs to know of it (``import``: ``stack``, ``written``)."""
    from . import __version__

    data = {**context, "command": command, "version": __version__, "error": message, "exit_code": int(exit_code)}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
