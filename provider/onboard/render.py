"""The import's result and its renderings: a YAML fragment with comments, or one JSON document."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from ruamel.yaml.comments import CommentedMap

from .. import escape, exits
from ..inputs import is_ascii_digits
from ..models import id_order
from ..redact import redact
from ..wording import counted
from .proposal import Proposed, NotAdded
from .stackedit import Target, add_entries, dump



@dataclass
class ImportResult:
    """What the import found and did; ``stack_name`` is the name as given (``org/project/stack`` too)."""

    stack_name: str
    target: Target
    waba_ids: Sequence[str]
    listed: int
    proposed: Proposed
    written: bool = False

    @property
    def exit_code(self) -> int:
        return exits.ERROR if self.proposed.errors else exits.OK

    def commands(self) -> list[str]:
        """What a person still has to run: the stack, and a secret PIN per number that has none and
        may ever register (not a number shared with the WhatsApp Business app: it is never cut over)."""
        stack = shlex.quote(self.stack_name)  # commands to paste into a shell: nothing in them is code
        cmds = [f"pulumi stack init {stack}"] if self.target.text is None else []
        declared = self.target.stack.phone_numbers()
        ids = [number_id for number_id, entry in declared.items()
               if not (isinstance(entry, Mapping) and entry.get("pin") is not None)]
        ids += [p.found.number_id for p in self.proposed.proposals]
        found = [p.found for p in self.proposed.proposals] + [d.found for d in self.proposed.declared]
        never = {item.number_id for item in found if item.never_cut_over}
        ids = [number_id for number_id in ids if number_id not in never]
        # Only IDs that are IDs: a stack-file key is the pull request's text, never pasted into a shell.
        for number_id in sorted({i for i in ids if is_ascii_digits(i)}, key=id_order):
            cmds.append(f"pulumi config set --path --secret 'phoneNumbers[\"{number_id}\"].pin' --stack {stack}")
        return cmds


def _headline(result: ImportResult) -> str:
    p = result.proposed
    counts = (f"{counted(result.listed, 'number')} listed: {len(p.proposals)} to add, {len(p.declared)} declared "
              f"already, {len(p.left_out)} left out, {counted(len(p.errors), 'error')}")
    if not p.proposals:
        return f"{counts}. Nothing to add; {result.target.label} is unchanged."
    if result.written:
        created = " (created)" if result.target.text is None else ""
        return f"{counts}. Wrote these entries to {result.target.label}{created}."
    return f"{counts}. Not written: run again with --write to merge these entries into {result.target.label}."


def render_yaml(result: ImportResult) -> str:
    p = result.proposed
    t = escape.text  # a comment is one line: a line break in a name or reason would end it
    lines = [f"# python -m provider import: stack {t(result.stack_name)}, WhatsApp Business Accounts "
             f"{t(', '.join(result.waba_ids))}", f"# {t(_headline(result))}"]
    if p.proposals:
        lines.append("# `name` is the verified name, for people: rename freely. `region` is where the number "
                     "keeps data now, so `pulumi up` adopts it with no call.")
    text = "\n".join(lines) + "\n"
    if p.proposals:
        numbers_key = result.target.stack.numbers_key
        text += dump(CommentedMap(config=CommentedMap({numbers_key: add_entries(CommentedMap(), p.proposals)})))
    sections = [("Left out (not adopted as they are)", p.left_out),
                ("Declared already and different from the live number (left unchanged)",
                 [v for v in p.declared if v.reasons]),
                ("Errors (not added)", p.errors)]
    tail: list[str] = []
    for title, verdicts in sections:
        if verdicts:
            tail.append(f"# {title}:")
            for verdict in verdicts:
                tail.append(f"#   {t(verdict.found.label)}")
                tail += [f"#     - {t(reason)}" for reason in verdict.reasons]
    if commands := result.commands():
        tail.append("# Still needed (this command never writes a PIN; each command prompts for it):")
        tail += [f"#   {t(cmd)}" for cmd in commands]
    return redact(text + ("\n".join(tail) + "\n" if tail else ""))


def _verdicts_json(verdicts: Iterable[NotAdded], key: str) -> list[dict[str, Any]]:
    out = []
    for verdict in verdicts:
        node = verdict.found.live.node if verdict.found.live else None
        out.append({"phone_number_id": verdict.found.number_id, "waba_id": verdict.found.waba_id,
                    "display_phone_number": node.display_phone_number if node else None,
                    "verified_name": node.verified_name if node else None, key: list(verdict.reasons)})
    return out


def render_json(result: ImportResult) -> str:
    p = result.proposed
    data = {
        "command": "import",
        "stack": result.stack_name,
        "stack_file": result.target.label,
        "waba_ids": list(result.waba_ids),
        "listed": result.listed,
        "written": result.written,
        "created": result.written and result.target.text is None,
        "add": {pr.found.number_id: pr.entry for pr in p.proposals},
        "notes": {pr.found.number_id: list(pr.notes) for pr in p.proposals if pr.notes},
        "left_out": _verdicts_json(p.left_out, "reasons"),
        "declared": _verdicts_json(p.declared, "differences"),
        "errors": _verdicts_json(p.errors, "reasons"),
        "commands": result.commands(),
        "summary": _headline(result),
        "error": None,
        "exit_code": result.exit_code,
    }
    return redact(json.dumps(data, indent=2, sort_keys=True)) + "\n"
