"""``python -m provider import``: adopting the numbers a team already has into a stack file.

``pulumi import`` cannot import into a Python dynamic provider (pulumi/pulumi#16175), so this
writes what a person would: one ``phoneNumbers`` entry per number, keyed by phone number ID,
with the number's live region, so that the first ``pulumi up`` adopts it with zero mutating calls.

This module owns the command itself (read the stack file, read Meta, propose, merge, write,
render). The parts: ``proposal`` decides which numbers may be adopted as they are (pure),
``reading`` lists business accounts and reads storage (GET calls only, bounded concurrency,
progress on stderr), ``stackedit`` merges into the stack file keeping its comments and writes it
atomically, ``render`` prints the result as YAML or one JSON document. Nothing here writes a
PIN: the result lists the commands that set one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence, TextIO

from .. import clock, exits
from ..assessment import Context
from ..client import GraphClient
from ..compliance import ALLOWED_REGIONS_KEY, parse_allowed_regions
from ..errors import WhatsAppError
from ..inputs import is_ascii_digits
from ..notices import Notices
from ..redact import redact
from .proposal import propose
from .reading import read_accounts
from .render import ImportResult, render_json, render_yaml
from .stackedit import load_target, merge, require_numbers_in_stack_file, write_atomically

FORMATS = ("yaml", "json")


def import_numbers(stack: str, project_dir: Path | None, waba_ids: Sequence[str], *, write: bool,
                   err: TextIO) -> ImportResult:
    target = load_target(stack, project_dir)  # a broken stack file stops here, before any call
    if write:
        require_numbers_in_stack_file(target)
    declared = target.stack.phone_numbers()
    allowed = parse_allowed_regions(target.stack.config.get(ALLOWED_REGIONS_KEY))
    config = target.stack.provider_config()
    notices = Notices(err)
    notices.once(clock.notice())
    notices.all_once(config.notices)
    waba_ids = list(dict.fromkeys(waba_ids))
    client = GraphClient(config, notices=notices)
    try:
        found = read_accounts(client, waba_ids, err)
    finally:
        client.close()
    # The declared numbers' calls as `pulumi up` would plan them (windows and budget are plan's business).
    context = Context(now=clock.now(), settings_flow=config.settings_flow, allowed_regions=allowed)
    proposed = propose(found, declared, context=context)
    result = ImportResult(stack, target, waba_ids, len({f.number_id for f in found}), proposed)
    if write and proposed.proposals:
        text = merge(target.text, target.stack.numbers_key, proposed.proposals, path=target.stack.path)
        write_atomically(target.stack.path, text, target.raw)
        result.written = True
    return result


def run(stack: str, project_dir: Path | None, waba_ids: Sequence[str], *, write: bool, fmt: str,
        out: TextIO, err: TextIO | None = None) -> int:
    """The command: YAML (default) or one JSON document on stdout, progress on stderr.

    With ``--format json`` every failure is a JSON document too (``error``, ``exit_code``);
    otherwise failures propagate to the CLI's one error printer.
    """
    err = err or sys.stderr
    try:
        result = import_numbers(stack, project_dir, waba_ids, write=write, err=err)
    except (WhatsAppError, OSError) as exc:
        if fmt != "json":
            raise
        code = exits.exit_code_for(exc)
        out.write(exits.error_document("import", redact(exc), code, stack=stack, written=False))
        return code
    out.write(render_json(result) if fmt == "json" else render_yaml(result))
    return result.exit_code


def waba_id(value: str) -> str:
    """argparse type for ``--waba-id``: ASCII digits only, matched whole."""
    if not is_ascii_digits(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a WhatsApp Business Account ID (digits only)")
    return value
