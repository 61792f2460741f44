"""``python -m provider``: what a dynamic provider cannot show a reviewer or an on-call engineer.

Pulumi shows a dynamic resource's update as a bare ``~``. ``plan`` and ``drift`` compare the
numbers declared in a stack file with the live numbers; ``report`` is a dated evidence snapshot
for auditors; ``import`` proposes stack file entries for the numbers a team already has (its logic
is provider/onboard/); ``verify`` runs Meta's request_code/verify_code steps; ``regions`` lists the codes.

The package is split as octoDNS splits plan, renderers and command: ``report`` (the assessment,
as data), ``render`` and ``evidence`` (the output formats), ``commands`` (arguments, exit codes,
dispatch). This module only parses arguments, dispatches, and turns a run-level failure into
one answer: a line on stderr and, with ``--format json``, one JSON document on stdout.

Exit codes: one table, ``provider.exits``, and one decision of which failure ends a command with
which code (``exits.exit_code_for``); each command's ``--help`` lists its own.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from typing import NoReturn, Sequence, TextIO, cast

from .. import __version__, distribution, escape, exits, zones
from ..exits import error_document
from ..errors import UsageError, WhatsAppError
from ..redact import redact
from .commands import COMMANDS, Command, Streams

PROG = "python -m provider"
# The console command an installed package puts on PATH (pyproject.toml, [project.scripts]).
CONSOLE_PROG = "whatsapp-local-storage"

__all__ = ["main", "console", "build_parser", "COMMANDS", "PROG", "CONSOLE_PROG"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


class _Version(argparse.Action):
    """``--version``: the project's version and the pinned time zone database on stdout; on stderr,
    any other installed distribution that overwrites this package's top-level names (looked up
    only here: it reads every installed distribution's file list)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, nargs=0,
                         help="show the version, the time zone database, and any package that clashes with this one")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"{parser.prog} {__version__}, time zones {zones.version()}", file=sys.stdout)
        for clash in distribution.clashes():
            print(clash.warning(), file=sys.stderr)
        parser.exit()


def _add(commands: "argparse._SubParsersAction[_Parser]", command: Command) -> None:
    cmd = commands.add_parser(command.name, help=command.help, allow_abbrev=False, description=command.description or command.help,
                              epilog=command.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    command.arguments(cmd)
    if command.formats:
        cmd.add_argument("--format", choices=command.formats, default=command.formats[0],
                         help="json: always one JSON document on stdout, with `error` and `exit_code`")
    cmd.set_defaults(command_def=command)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        allow_abbrev=False,
        description="Show what `pulumi up` would do to WhatsApp numbers' Local Storage, detect drift, report "
                    "compliance, verify a number, list regions.",
        epilog=f"exit codes: {exits.summary()}; see each command's --help",
    )
    # the time zone database beside the project: change windows and blackouts run on the pinned one
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        _add(commands, command)
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether the arguments ask for JSON, read before parsing so that a usage error can answer in JSON.

    The last ``--format`` counts, as it does for argparse: ``--format json --format markdown`` is Markdown.
    """
    chosen = ""
    for a, b in zip(argv, [*argv[1:], ""]):
        if a.startswith("--format="):
            chosen = a.partition("=")[2]
        elif a == "--format":
            chosen = b
    return chosen == "json"


def _fail(streams: Streams, prog: str, command: str | None, message: str, code: int, as_json: bool) -> int:
    # escape.text per line: a path or name in the message may hold a bare \r, which the LogStream
    # takes for a line start and a terminal would use to overprint the error
    shown = "\n".join(escape.text(line) for line in message.split("\n"))
    print(f"{prog}{' ' + command if command else ''}: error: {shown}", file=streams.err)  # a LogStream
    if as_json:
        streams.out.write(error_document(command, message, code))
    return code


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         prog: str = PROG) -> int:
    """Run one command. Everything it prints passes through ``escape.LogStream``: no control
    sequence and no GitHub workflow command (``::add-mask::``, ``::error::``) reaches a terminal or
    CI log from a stack file, a state file or the Graph API."""
    streams = Streams(cast(TextIO, escape.LogStream(out or sys.stdout)), cast(TextIO, escape.LogStream(err or sys.stderr)))
    try:
        return _main(argv, streams, prog)
    finally:
        streams.out.flush()
        streams.err.flush()


def console() -> None:
    """The ``whatsapp-local-storage`` console command: ``main`` under the name it was installed as,
    so that usage lines, ``--version`` and errors name the command the person typed."""
    sys.exit(main(prog=CONSOLE_PROG))


def _main(argv: Sequence[str] | None, streams: Streams, prog: str) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    try:
        # --help and --version answer on the command's output, --version's warnings on its errors
        with redirect_stdout(streams.out), redirect_stderr(streams.err):
            args = parser.parse_args(argv)
    except UsageError as exc:
        exc.parser.print_usage(streams.err)
        names = {c.name for c in COMMANDS}
        command = next((a for a in argv if a in names), None)  # the first one: later ones are values
        return _fail(streams, prog, command, str(exc), exits.exit_code_for(exc), _wants_json(argv))
    except SystemExit as exc:  # --help or --version
        return exc.code if isinstance(exc.code, int) else exits.USAGE
    as_json = getattr(args, "format", None) == "json"
    try:
        chosen: Command = args.command_def
        return chosen.run(args, streams)
    except (WhatsAppError, OSError) as exc:
        return _fail(streams, prog, args.command, redact(exc), exits.exit_code_for(exc), as_json)
    except KeyboardInterrupt as exc:
        return _fail(streams, prog, args.command, "interrupted", exits.exit_code_for(exc), as_json)
    except Exception as exc:  # a bug: a pipeline reading JSON still gets one document, a person the traceback
        if not as_json:
            raise
        streams.err.write(redact(traceback.format_exc()))
        return _fail(streams, prog, args.command, redact(f"internal error: {type(exc).__name__}: {exc}"),
                     exits.exit_code_for(exc), True)
