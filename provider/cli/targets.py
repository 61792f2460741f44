"""``plan --ready-targets``: the ``--target`` URNs of every resource whose step ``pulumi up`` would run now.

One number outside its window must not hold back every other number (issue 27): a scheduled
deployment runs ``pulumi up --target`` for each URN printed here, and the rest go in a later run.
The list is read off the same report ``plan`` prints, whose per-number verdicts are the one
assessment ``pulumi up``'s provider runs (``assessment.assess``): nothing here decides again
whether a number may go, it only sorts the verdicts.

- ready (stdout, one URN per line, nothing else): a create; an update that makes no call (an
  input echo differs, a schema migration); a converge whose gate is open and budget allows; the
  delete of a state entry no longer declared (with no call, or a disable that may run now);
- waiting (stderr, with the instant it can go: the next opening, a blackout's end, the instant the
  72-hour budget frees): exit 0 when nothing else is wrong;
- refused (stderr, with the reason): exit 1, the ready list still printed;
- the program itself would fail (an invalid entry, a declared region outside allowedRegions):
  exit 1 with nothing printed, as ``pulumi up`` would declare nothing.

URNs of numbers in state are taken from the state file; a new number's is built as the stack
program names it: ``urn:pulumi:STACK::PROJECT::pulumi-python:dynamic/whatsapp:PhoneNumberStorage::ID``.
A PIN changed alone cannot be seen (both the stack file and the export hold it encrypted): it
deploys with the number's next listed step, or with a plain ``pulumi up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TextIO

from .. import escape, exits, lifecycle
from ..declaration import STACK_SPELLING
from ..ledger import format_instant
from ..stackfile import TYPE_TOKEN
from .report import NumberReport, Report

__all__ = ["Sorted", "ready_targets", "sort", "urn_for"]


@dataclass(frozen=True)
class Sorted:
    ready: tuple[str, ...]  # URNs
    waiting: tuple[str, ...]  # stderr lines
    refused: tuple[str, ...]  # stderr lines
    blocked: tuple[str, ...] = ()  # the program would fail: stderr lines, nothing is ready

    @property
    def exit_code(self) -> int:
        return exits.ERROR if self.refused or self.blocked else exits.OK


def urn_for(report: Report, n: NumberReport) -> str:
    if n.state is not None and n.state.urn:
        return n.state.urn
    return f"urn:pulumi:{report.stack.stack}::{report.stack.project}::{TYPE_TOKEN}::{n.number_id}"


def _inputs_changed(n: NumberReport) -> bool:
    """An update with no call: an input differs from its echo in state, or the schema is old.
    The PIN is compared by presence only (both sides hold it encrypted)."""
    if n.state is None or n.assessment is None:
        return False
    outputs: Mapping[str, Any] = n.state.outputs
    declared = n.assessment.declaration.as_inputs()
    if (declared.get("pin") is None) != (outputs.get("pin") is None):
        return True
    declared = {**declared, "pin": outputs.get("pin")}
    return lifecycle.inputs_changed(outputs, declared)  # the Diff's own rule


def _why(n: NumberReport) -> str:
    return "; ".join(p.render(STACK_SPELLING) for p in n.problems) or (n.error or "not read")


def sort(report: Report) -> Sorted:
    """Each number's verdict from the report: ready, waiting (and until when), or refused."""
    blocked = tuple(f"{n.number_id}: the stack program would fail: {n.error or _why(n)}" for n in report.blocking_entries)
    if blocked:
        return Sorted((), (), (), blocked)
    ready: list[str] = []
    waiting: list[str] = []
    refused: list[str] = []
    for n in report.numbers:
        what = "delete" if n.removed else ("create" if not n.in_state else "update")
        if n.removed and n.assessment is None and n.error is None:
            ready.append(urn_for(report, n))  # a delete that makes no call (retain, or nothing to disable)
        elif n.error is not None or n.plan is None:
            refused.append(f"{n.number_id} ({what}): refused: {n.error or 'not read'}")
        elif n.problems and all(p.waits for p in n.problems):
            when = max(p.clears_at for p in n.problems if p.clears_at is not None)
            waiting.append(f"{n.number_id} ({what}): waits until {format_instant(when)}: {_why(n)}")
        elif n.problems:
            refused.append(f"{n.number_id} ({what}): refused: {_why(n)}")
        elif n.removed or not n.in_state or not n.plan.in_sync or _inputs_changed(n):
            ready.append(urn_for(report, n))
    return Sorted(tuple(ready), tuple(waiting), tuple(refused))


def ready_targets(report: Report, out: TextIO, err: TextIO, header: Sequence[str] = ()) -> int:
    """Print the ready URNs on ``out`` (nothing else) and everyone else on ``err``, after the
    output's header lines (read time, commits, API version); the exit code."""
    found = sort(report)
    for line in header:
        print(escape.text(line), file=err)
    print(f"python -m provider plan --ready-targets: stack {escape.text(report.stack.stack)}, read at "
          f"{format_instant(report.read_at)}: {len(found.ready)} ready, {len(found.waiting)} waiting, "
          f"{len(found.refused) + len(found.blocked)} refused", file=err)
    for line in (*found.blocked, *found.refused, *found.waiting):
        print(f"  {escape.text(line)}", file=err)
    for urn in found.ready:
        print(escape.text(urn), file=out)
    return found.exit_code
