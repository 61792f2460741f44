"""The plan and drift as Markdown, for a pull-request comment or an issue: under ``CAP`` bytes.

GitHub refuses a comment or issue body over 65,536 characters: the step that posts it fails and
the previous comment stays, stale. So the capped rendering keeps the head (provenance, summary),
then adds numbers most urgent first, a table row and a detail section each, while they fit under
``CAP`` bytes of UTF-8, and says how many more the full output holds (``--full-output``). Every
value a pull request or Meta wrote is clipped before it is escaped (an escape can grow a character
tenfold), so one 40,000-character name costs a few hundred bytes and the rest still fit.
Long sections fold in ``<details>``. The uncapped rendering (``Options.capped`` false) is the
same document with every number and nothing clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .. import escape
from ..compliance import describe_policy
from ..redact import redact
from ..safety import REGISTER_BUDGET
from .render import (Options, View, _calls, _declared_short, _detail_lines, _live_short, _offline,
                     _policy_short, _preflight_short, _window_short, listing, quiet_line)
from .report import PENDING, NumberReport, Report

CAP = 60_000  # bytes of UTF-8; GitHub's limit is 65,536 characters, and a workflow adds a line or two
NAME_CLIP = 200  # characters of a name, a stack name or a path, before escaping
CELL_CLIP = 300  # characters of a table cell that says why (when a pending number can go)
TEXT_CLIP = 1_000  # characters of a detail (a Graph error message, a problem), before escaping
FOLD_AFTER = 5  # more detail sections than this fold in <details>

Clip = Callable[[object, int], str]


def md(text: object) -> str:
    """Text for a Markdown table cell or line (``escape.markdown``). The pull request writes names,
    IDs and paths, and the plan is posted for its reviewers: raw HTML (an unclosed ``<!--``,
    ``</details>``) would hide the rows after it, and a pipe would split a cell."""
    return escape.markdown(text)


def _clip(value: object, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit:,} more characters)"


def _keep(value: object, limit: int) -> str:
    return str(value)


@dataclass(frozen=True)
class _Columns:
    """The table's optional columns, decided once per document (not once per row: the can-go column
    asks every number's status)."""

    policy: bool
    window: bool
    budget: bool
    can_go: bool  # drift with pending numbers: when each can be deployed (the nightly's run summary)

    @classmethod
    def of(cls, report: Report, view: View) -> "_Columns":
        return cls(report.allowed_regions is not None, any(n.gate is not None for n in report.numbers),
                   report.state is not None, view.drift_view and bool(report.pending))

    def head(self) -> list[str]:
        header = ["Number", "Name", "Status", "Live", "Declared", "Calls", "Offline", "Preflight"]
        header += ["Policy"] * self.policy + ["Window"] * self.window + ["Budget left"] * self.budget
        header += ["Can go"] * self.can_go
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]


def _row(n: NumberReport, report: Report, view: View, clip: Clip, columns: _Columns) -> str:
    cells = [escape.code(clip(n.number_id, NAME_CLIP)), md(clip(n.name or "", NAME_CLIP)), view.label(n, report),
             md(_live_short(n.live)), md(_declared_short(n)), md(_calls(n.plan, "→")), _offline(n), _preflight_short(n)]
    if columns.policy:
        cells.append(_policy_short(n))
    if columns.window:
        cells.append(md(_window_short(n)))
    if columns.budget:
        cells.append("-" if n.budget_left is None else f"{n.budget_left} of {REGISTER_BUDGET}")
    if columns.can_go:
        cells.append(md(clip(n.can_go, CELL_CLIP)) if not n.removed and n.sync_status == PENDING else "-")
    return "| " + " | ".join(cells) + " |"


def _section(n: NumberReport, report: Report, view: View, clip: Clip) -> list[str]:
    bits = [b for b in (n.name, n.live.node.display_phone_number if n.live else None) if b]
    title = f"#### {escape.code(clip(n.number_id, NAME_CLIP))}"
    title += f" ({md(clip(', '.join(bits), NAME_CLIP))})" if bits else ""
    lines = [title + f": {view.label(n, report)}", ""]
    for label, text in _detail_lines(n, report, "→", view.drift_view):
        shown = clip(text, TEXT_CLIP)
        lines.append(f"- **{label}**: " + (escape.code(shown) if label == "calls" and n.plan and n.plan.calls
                                            else md(shown)))
    return lines + [""]


def _fold(summary: str, body: list[str], fold: bool) -> list[str]:
    if not body or not fold:
        return body
    return [f"<details><summary>{summary}</summary>", "", *body, "</details>", ""]


class _Document:
    """The parts of one Markdown output; ``text(k)`` is the document with the first ``k`` listed numbers."""

    def __init__(self, report: Report, view: View, options: Options) -> None:
        clip: Clip = _clip if options.capped else _keep
        self.report, self.view, self.options = report, view, options
        loud, quiet = listing(report, view)
        self.loud, self.quiet = loud, quiet
        self.shown = loud + (quiet if options.show_sames else [])
        self.columns = _Columns.of(report, view)
        self.rows = [_row(n, report, view, clip, self.columns) for n in self.shown]
        self.sections = [_section(n, report, view, clip) for n in loud]
        head = [f"### WhatsApp Local Storage {view.title}: stack {escape.code(clip(report.stack.stack, NAME_CLIP))}", ""]
        provenance = replace(options.provenance, stack_file=clip(options.provenance.stack_file, NAME_CLIP),
                             graph_api_url=clip(options.provenance.graph_api_url, NAME_CLIP))  # both from the stack file
        head += [f"- {md(line)}" for line in provenance.lines()]
        head += ["", f"{escape.code(clip(report.stack_file_label, NAME_CLIP))} against the live numbers: "
                     f"**{md(view.summary(report))}**.", ""]
        if report.allowed_regions is not None:
            head += [f"Policy: {describe_policy(report.allowed_regions)}.", ""]
        self.head = head
        self.numbers_key = clip(report.stack.numbers_key, NAME_CLIP)

    def text(self, k: int) -> str:
        report, view, options = self.report, self.view, self.options
        lines = list(self.head)
        omitted = len(self.shown) - k
        if omitted:
            where = (f" ({md(_clip(options.full_output, NAME_CLIP))})" if options.full_output
                     else f" (`python -m provider {view.command} --full-output FILE`)")
            lines += [f"**{omitted} more number{'s' if omitted != 1 else ''} not shown here**: this output stops at "
                      f"{CAP:,} bytes (a GitHub comment holds 65,536 characters). The full {view.title} lists every "
                      f"number, most urgent first{where}.", ""]
        rows = self.rows[:k]
        loud_rows, quiet_rows = rows[:len(self.loud)], rows[len(self.loud):]
        if loud_rows:
            lines += self.columns.head() + loud_rows + [""]
        if said := quiet_line(self.quiet, options):
            lines += [md(said) + ".", ""]
        shown_quiet = f"{len(quiet_rows)}" + (f" of {len(self.quiet)}" if len(quiet_rows) < len(self.quiet) else "")
        quiet_table = self.columns.head() + quiet_rows + [""] if quiet_rows else []
        lines += _fold(f"{shown_quiet} in sync", quiet_table, True)
        sections = [line for section in self.sections[:k] for line in section]
        lines += _fold(f"Details of {min(k, len(self.sections))} numbers", sections, len(self.sections) > FOLD_AFTER)
        if not report.numbers:
            lines += [f"No numbers declared under {escape.code(self.numbers_key)}.", ""]
        elif not self.loud:
            lines += ["Nothing to change: every declared number matches its live state.", ""]
        for text in view.notes(report):  # one quote each: lines of one quote would run together
            lines += [f"> {text}", ""]
        lines.pop()
        return redact("\n".join(lines) + "\n")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def render_markdown(report: Report, view: View, exit_code: int, options: Options) -> str:
    document = _Document(report, view, options)
    total = len(document.shown)
    if not options.capped:
        return document.text(total)
    budget = CAP - _size(document.text(0)) - 400  # the fold wrappers and the notice's digits
    used, k = 0, 0
    while k < total:
        cost = _size(document.rows[k]) + 1 + (sum(_size(line) + 1 for line in document.sections[k])
                                              if k < len(document.sections) else 0)
        if used + cost > budget:
            break
        used, k = used + cost, k + 1
    text = document.text(k)
    while _size(text) > CAP and k > 0:  # the estimate is close; the cap is a promise
        k -= 1
        text = document.text(k)
    return text
