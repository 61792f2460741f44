"""The ``report`` command's evidence snapshot: one row per declared number, for auditors.

``rows`` turns a report into flat, dated records (what was read, when, through which API
version, under which policy, and whether each number complies with its declaration and the
policy); the renderers print the same records as Markdown, CSV (a table a spreadsheet opens) or
JSON. Nothing here reads the network. Every rendering passes through ``redact`` last, as the
plan's do.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from typing import Any

from .. import __version__, escape, exits
from ..redact import redact
from ..compliance import describe_policy
from ..planner import REGISTRATION_STEPS
from ..safety import format_time, parse_times
from .markdown import md
from .provenance import Provenance
from .report import ERROR, IN_SYNC, PENDING, NumberReport, Report

COLUMNS = (
    "phone_number_id", "display_phone_number", "name", "declared_region", "live_region", "storage_status",
    "registered", "complies_with_declaration", "complies_with_policy", "status", "complies",
    "last_applied_steps", "last_applied_at", "in_window", "next_window_opening", "next_window_opening_local", "change_window",
    "error",
)
# Every CSV row repeats the snapshot's context, so a row copied elsewhere still says what it is.
CSV_COLUMNS = ("read_at", "stack", "api_version", "allowed_regions", *COLUMNS)


def _rfc3339_to_iso(value: str | None) -> str | None:
    """Pulumi's `modified` (RFC 3339, nanoseconds, any offset) as ISO-8601 UTC to the second."""
    if not value:
        return None
    text = re.sub(r"(\.\d+)", "", value.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return format_time(moment)


def last_applied(n: NumberReport) -> tuple[list[str] | None, str | None]:
    """The steps the last `pulumi up` applied to the number, and when (from the state export).

    A register or deregister is timed by the newest ``registration_calls`` timestamp; otherwise
    (and for exports from before that output) by the resource's ``modified`` time.
    """
    if n.state is None:
        return None, None
    steps = n.state.outputs.get("applied_steps")
    steps = [str(s) for s in steps] if isinstance(steps, list) else None
    calls = parse_times(n.state.outputs.get("registration_calls"))
    registration = steps is not None and any(s in {step.value for step in REGISTRATION_STEPS} for s in steps)
    if registration and calls:
        return steps, format_time(calls[-1])
    return steps, _rfc3339_to_iso(n.state.modified)


def complies(n: NumberReport) -> bool | None:
    """In sync, or pending (live is what was deployed and inside the policy; the declared change waits
    for its deploy); not drift or policy; None when it could not be checked. A number new to the
    stack is pending too, but nothing was deployed for it: it complies only when live is as declared."""
    status = n.sync_status
    if status == PENDING and n.state is None:
        return bool(n.complies_with_declaration)
    return None if status == ERROR else status in (IN_SYNC, PENDING)


def row(n: NumberReport) -> dict[str, Any]:
    steps, when = last_applied(n)
    live = n.live
    return {
        "phone_number_id": n.number_id,
        "display_phone_number": live.node.display_phone_number if live else None,
        "name": n.name,
        "declared_region": n.declared_region,
        "live_region": live.region if live else None,
        "storage_status": live.storage_status.value if live else None,
        "registered": live.registered if live else None,
        "complies_with_declaration": n.complies_with_declaration,
        "complies_with_policy": n.live_complies_with_policy,
        "status": n.sync_status,  # in_sync, pending (merged, not deployed: needs --state), drift, policy, error
        "complies": complies(n),
        "last_applied_steps": steps,
        "last_applied_at": when,
        # change windows (None: no windows, cutovers at any time)
        "in_window": None if n.window is None else n.window.inside,
        "next_window_opening": n.window.next.opens_utc if n.window and n.window.next else None,
        "next_window_opening_local": n.window.next.opens_local if n.window and n.window.next else None,
        "change_window": None if n.gate is None else n.gate.sentence(),  # windows and blackouts together
        "error": n.error,
    }


def rows(report: Report) -> list[dict[str, Any]]:
    return [row(n) for n in report.numbers if not n.removed]


def _context(report: Report) -> dict[str, Any]:
    return {
        "read_at": format_time(report.read_at),
        "stack": report.stack.stack,
        "api_version": report.config.api_version,
        "allowed_regions": None if report.allowed_regions is None else sorted(report.allowed_regions),
    }


def summary(report: Report) -> dict[str, int]:
    """``comply`` counts pending numbers too (not a violation); ``pending`` says how many of them."""
    records = rows(report)
    verdicts = [r["complies"] for r in records]
    return {"numbers": len(verdicts), "comply": verdicts.count(True), "do_not_comply": verdicts.count(False),
            "unknown": verdicts.count(None), "pending": sum(r["status"] == PENDING for r in records)}


def _error(report: Report, exit_code: int) -> str | None:
    """Why the report could not give every verdict: numbers not read, or entries not valid."""
    if exit_code != exits.ERROR:
        return None
    declared = [n for n in report.numbers if not n.removed and n.error]
    invalid = sum(n.invalid for n in declared)
    unread = len(declared) - invalid
    parts = ([f"{unread} number{'s' if unread != 1 else ''} could not be read"] if unread else []) + (
        [f"{invalid} invalid entr{'ies' if invalid != 1 else 'y'} in the stack file"] if invalid else [])
    return "; ".join(parts) + " (see numbers[].error)" if parts else "failed"


# -- renderers ------------------------------------------------------------------------------------


def render_json(report: Report, exit_code: int, provenance: Provenance) -> str:
    data = {
        "command": "report",
        "version": __version__,
        "project": report.stack.project,
        "stack_file": report.stack_file_label,
        "graph_api_url": report.graph_api_url,
        "reads_pulumi_state": report.state is not None,
        **provenance.as_json(),
        **_context(report),
        "numbers": rows(report),
        "summary": summary(report),
        "error": _error(report, exit_code),
        "exit_code": exit_code,
    }
    return redact(json.dumps(data, indent=2, sort_keys=True)) + "\n"


# A spreadsheet skips leading spaces before it looks for a formula (`  =HYPERLINK(...)` runs too).
_FORMULA = re.compile(r"^\s*[=+\-@]")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]+$")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return escape.text(" ".join(map(str, value))) or "none"
    text = escape.text(value)  # one line per row: a line break in a name cannot start a forged row
    # A name from a pull request must not run as a spreadsheet formula; a phone number such as
    # "+1 555-0100" holds no function to call, so it stays readable as it is.
    if _FORMULA.match(text) and not _PHONE.match(text):
        return "'" + text
    return text


def render_csv(report: Report, exit_code: int, provenance: Provenance) -> str:
    """Rows only: the provenance is on stderr (and each row repeats when and through what it was read)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    context = _context(report)
    for record in rows(report):
        writer.writerow({key: _cell(value) for key, value in {**context, **record}.items()})
    return redact(buffer.getvalue())


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "**NO**")


def _window_cell(record: dict[str, Any]) -> str:
    if record["change_window"] is not None:
        return md(record["change_window"])
    if record["in_window"] is None:
        return "any time"
    if record["in_window"]:
        return "in a window"
    if record["next_window_opening"] is None:
        return "never (no window)"
    return md(f"next opening {record['next_window_opening']} ({record['next_window_opening_local']})")


_STATUS_CELL = {"in_sync": "in sync", "pending": "pending", "drift": "**DRIFT**", "policy": "**OUTSIDE POLICY**",
                "error": "**ERROR**"}


def _result(report: Report, counts: dict[str, int]) -> str:
    pending = counts["pending"]
    return (f"{counts['comply']} of {counts['numbers']} "
            + ("number complies" if counts["numbers"] == 1 else "numbers comply")
            + (f" ({pending} of them pending: the declared region is merged, not deployed yet; live is as deployed)"
               if pending else "")
            + (f", {counts['do_not_comply']} do not" if counts["do_not_comply"] else "")
            + (f", {counts['unknown']} could not be checked" if counts["unknown"] else "")
            + ("" if report.state is not None else " (without --state nothing can be pending: a change merged but "
                                                    "not deployed counts as not matching its declaration)"))


def render_markdown(report: Report, exit_code: int, provenance: Provenance) -> str:
    counts = summary(report)
    lines = [
        f"### WhatsApp Local Storage evidence: stack {escape.code(report.stack.stack)}",
        "",
        *(f"- {md(line)}" for line in provenance.lines()),
        f"- Declarations: {escape.code(report.stack_file_label)} (project {escape.code(report.stack.project)})",
        f"- Policy: {describe_policy(report.allowed_regions)}",
        f"- Result: {_result(report, counts)}",
        "",
    ]
    header = ["Number ID", "Display number", "Name", "Declared", "Live", "Storage status", "Registered",
              "Matches declaration", "Within policy", "Status"]
    with_state = report.state is not None
    with_windows = any(n.gate is not None for n in report.numbers if not n.removed)
    if with_state:
        header += ["Last applied", "Applied at"]
    if with_windows:
        header += ["Change window"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in rows(report):
        cells = [escape.code(record["phone_number_id"]), md(record["display_phone_number"] or ""),
                 md(record["name"] or ""), md(record["declared_region"] or "invalid"), md(record["live_region"] or "-"),
                 md(record["storage_status"] or "-"),
                 "-" if record["registered"] is None else ("yes" if record["registered"] else "no"),
                 _yes_no(record["complies_with_declaration"]), _yes_no(record["complies_with_policy"]),
                 _STATUS_CELL[record["status"]]]
        if with_state:
            steps = record["last_applied_steps"]
            cells += [md("-" if steps is None else (", ".join(steps) or "no change")), md(record["last_applied_at"] or "-")]
        if with_windows:
            cells.append(_window_cell(record))
        lines.append("| " + " | ".join(cells) + " |")
    errors = [r for r in rows(report) if r["error"]]
    if errors:
        lines.append("")
        lines += [f"- {escape.code(r['phone_number_id'])}: {md(r['error'])}" for r in errors]
    lines += ["", f"> Generated by `python -m provider report` {__version__}. It compares the stack file with "
                  "the live numbers; numbers declared in code rather than in the stack file are out of its reach."]
    return redact("\n".join(lines) + "\n")


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json}
