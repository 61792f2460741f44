"""Renderers of a plan/drift report: text for a terminal, Markdown for a pull request, JSON for
pipelines, and the one JSON document a failed run prints. They only read the report, and every
rendering passes through ``redact`` last: a secret that reached a name, a Graph message or an
error is masked in the output as a whole (a PIN only as a whole run of digits).

What differs between ``plan`` and ``drift`` (title, status labels, summary sentence) is a
``View``, data chosen by the command; problems are rendered with the stack file's spelling
(``STACK_SPELLING``), since these commands read a stack file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .. import __version__, escape, exits
from ..redact import redact
from ..compliance import SETTING, describe_policy, verdict
from ..models import LiveNumber
from ..planner import Plan
from ..regions import describe
from ..safety import REGISTER_BUDGET, STACK_SPELLING, format_time
from .report import NumberReport, Report

NOTE_NO_STATE = (
    "This compares the stack file with the live numbers. It does not read Pulumi state: pass "
    "--state FILE (the output of `pulumi stack export`) to see each number's register budget and "
    "which numbers are new to the stack. Numbers declared in code rather than in the stack file "
    "are out of its reach."
)
NOTE_STATE = (
    "This compares the stack file with the live numbers, and reads the register budget from the "
    "state file given (it counts only calls made by successful runs of this stack). Numbers "
    "declared in code rather than in the stack file are out of its reach."
)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _blocking_entries_text(report: Report) -> str | None:
    """``1 invalid entry and 2 entries outside allowedRegions``: what stops the stack program."""
    blocking = report.blocking_entries
    if not blocking:
        return None
    invalid = sum(n.invalid for n in blocking)
    outside = len(blocking) - invalid
    return " and ".join(part for part in (
        _plural(invalid, "invalid entry", "invalid entries") if invalid else "",
        f"{_plural(outside, 'entry', 'entries')} outside allowedRegions" if outside else "") if part)


def blocked_clause(report: Report) -> str | None:
    """Why nothing would change at all: the stack program refuses to declare any resource."""
    what = _blocking_entries_text(report)
    if what is None:
        return None
    return f"nothing would change: the stack file has {what}, and `pulumi up` would stop before declaring any resource"


def plan_summary(report: Report) -> str:
    total = len(report.numbers)
    blocked = blocked_clause(report)
    if blocked:
        parts = [blocked, f"{report.count('error')} errors"]
    else:
        parts = [f"{report.count('change')} to change", f"{report.count('in_sync')} in sync",
                 f"{report.count('refused')} refused by preflight", f"{report.count('error')} errors"]
    if report.count("removed"):
        parts.append(f"{report.count('removed')} removed")
    if report.refused_deletes:
        parts.append(f"{_plural(len(report.refused_deletes), 'delete')} refused by preflight")
    if report.policy_violations:
        parts.append(f"{len(report.policy_violations)} outside allowedRegions")
    return f"{total} numbers: " + ", ".join(parts)


def drift_summary(report: Report) -> str:
    total = len(report.numbers)
    head = (f"drift found in {report.drift_count} of {total} numbers" if report.drift_count
            else f"all {total} numbers in sync")
    if report.policy_violations:
        head += f", {len(report.policy_violations)} outside allowedRegions"
    if what := _blocking_entries_text(report):  # an entry outside the policy is not an invalid one
        head += f"; the stack file has {what}"
    return head + (f", {report.count('error')} errors" if report.count("error") else "")


@dataclass(frozen=True)
class View:
    """How one command presents a report."""

    command: str
    title: str
    labels: Mapping[str, str]
    summary: Callable[[Report], str]
    blocked_change_label: str | None = None  # a change that cannot happen while the stack file is invalid
    # A number that matches its declaration, but the declaration (so the live storage) is outside
    # allowedRegions: refused by `pulumi up`, yet not drift.
    outside_policy_label: str | None = None

    def label(self, n: NumberReport, report: Report) -> str:
        if n.status == "change" and self.blocked_change_label and report.blocking_entries:
            return self.blocked_change_label
        if self.outside_policy_label and n.policy_blocks_declaration and not n.drifted and not n.error:
            return self.outside_policy_label
        return self.labels[n.status]


PLAN = View("plan", "plan", {"error": "ERROR", "in_sync": "in sync", "change": "will change", "refused": "REFUSED",
                             "removed": "removed"}, plan_summary, blocked_change_label="blocked")
DRIFT = View("drift", "drift check", {"error": "ERROR", "in_sync": "in sync", "change": "DRIFT", "refused": "DRIFT",
                                      "removed": "removed"}, drift_summary, outside_policy_label="OUTSIDE POLICY")


def note(report: Report) -> str:
    return NOTE_STATE if report.state is not None else NOTE_NO_STATE


# -- pieces ---------------------------------------------------------------------------------------


def _live_short(live: LiveNumber | None) -> str:
    if live is None:
        return "unknown"
    storage = live.region if live.region is not None else live.storage_status.value
    return f"{storage}, {'registered' if live.registered else 'not registered'}"


def _live_long(live: LiveNumber) -> str:
    storage = (describe(live.region) if live.region is not None
               else f"{live.storage_status.value} (not managed by this provider)")
    parts = [storage, "registered" if live.registered else "not registered",
             f"verification {live.node.code_verification_status or 'unknown'}"]
    if live.node.is_on_biz_app:
        parts.append("shared with the WhatsApp Business app")
    return ", ".join(parts)


def _declared_short(n: NumberReport) -> str:
    if n.removed:
        return f"removed (on_delete={n.declared['on_delete'] if n.declared else 'retain'})"
    if not n.declared:
        return "invalid"
    return f"{n.declared['region']}, registered"


def _declared_long(n: NumberReport) -> str:
    if n.removed:
        on_delete = (n.declared or {}).get("on_delete", "retain")
        if on_delete == "disable":
            return ("not in the stack file any more: `pulumi up` deletes its resource, and on_delete=disable "
                    "turns local storage off (DEFAULT, registered)")
        return ("not in the stack file any more: `pulumi up` deletes its resource; on_delete=retain makes no "
                "call, so the number keeps its storage")
    if not n.declared:
        return "invalid (see the error)"
    pin = {"plain": "PIN declared", "secure": "secret PIN declared", "missing": "no PIN declared"}[n.pin]
    extras = [pin]
    for key in ("enforce_pin", "allow_cutover_on_create"):
        if n.declared.get(key):
            extras.append(STACK_SPELLING.get(key, key))
    if n.declared.get("on_delete") == "disable":
        extras.append("onDelete=disable")
    return f"{describe(n.declared['region'])}, registered ({', '.join(extras)})"


def _calls(plan: Plan | None, arrow: str) -> str:
    if plan is None:
        return "-"
    return f" {arrow} ".join(map(str, plan.calls)) if plan.calls else "none"


def _offline(n: NumberReport) -> str:
    return "-" if n.plan is None else ("yes" if n.plan.deregisters else "no")


def _preflight_short(n: NumberReport) -> str:
    if n.status == "error":
        return "error"
    if n.plan is None:
        return "-"
    return f"refused ({len(n.problems)})" if n.problems else "ok"


def _policy_short(n: NumberReport) -> str:
    verdict = n.live_complies_with_policy
    return "-" if verdict is None else ("ok" if verdict else "VIOLATION")


def _policy_long(n: NumberReport, report: Report) -> str | None:
    if report.allowed_regions is None or n.live is None:
        return None
    violation = verdict(report.allowed_regions, n.live.region)
    if violation is not None:
        return "VIOLATION: " + violation.message("live storage", SETTING)
    allowed = ", ".join(sorted(report.allowed_regions)) or "none"
    return f"live storage {describe(n.live.region)} is inside {SETTING} ({allowed})"


def _window_short(n: NumberReport) -> str:
    """The Window column: the gate's answer (``in a window until ...``, ``waiting: ...``, ``never``)."""
    if n.gate is not None:
        return n.gate.short()
    if n.window is None:
        return "-" if n.removed and n.plan is None else "any time"
    if n.window.current is not None:
        return f"in a window until {n.window.current.closes_utc}"
    if n.window.next is None:
        return "never (no window)"
    return f"next opening {n.window.next.opens_utc} ({n.window.next.opens_local})"


def _window_json(n: NumberReport) -> dict[str, Any] | None:
    if n.window is None:
        return None if n.gate is None else {"windows": None, "gate": n.gate.facts()}
    current, upcoming = n.window.current, n.window.next
    return {
        "windows": [str(window) for window in n.windows or ()],
        "inside": current is not None,
        "closes": None if current is None else {"utc": current.closes_utc, "local": current.closes_local},
        "next_opening": None if upcoming is None else {"utc": upcoming.opens_utc, "local": upcoming.opens_local},
        "gate": None if n.gate is None else n.gate.facts(),
    }


def _budget(n: NumberReport) -> str:
    text = f"{n.budget_left} of {REGISTER_BUDGET} left in the last 72 hours"
    if n.in_state is False:
        text += " (new to the stack)"
    if n.plan is not None and n.plan.registration_call_count:
        text += f"; this plan uses {n.plan.registration_call_count}"
    return text


def _detail_lines(n: NumberReport, report: Report, arrow: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if n.live is not None:
        rows.append(("live", _live_long(n.live)))
    rows.append(("declared", _declared_long(n)))
    if n.error:
        rows.append(("error", n.error))
        return rows
    if n.plan is not None:
        rows.append(("calls", _calls(n.plan, arrow) + (": in sync" if n.plan.in_sync else "")))
        if n.plan.deregisters:
            offline = "yes: from deregister until register succeeds (Meta: usually under 5 minutes)"
        elif n.live is not None and not n.live.registered:
            offline = "no: it is not registered now, so it serves no traffic until register"
        else:
            offline = "no"
        rows.append(("offline", offline))
        rows.append(("preflight", "ok" if not n.problems else "REFUSED: `pulumi up` would make no call"))
        rows.extend(("problem", problem.render(STACK_SPELLING)) for problem in n.problems)
    policy = _policy_long(n, report)
    if policy:
        rows.append(("policy", policy))
    rows.extend(("warning", warning.render(STACK_SPELLING)) for warning in n.warnings)
    if n.gate is not None:
        listed = "; ".join(map(str, n.windows or ())) or ("none" if n.windows is not None else "any time")
        rows.append(("window", f"{n.gate.sentence()} (cutoverWindows: {listed})"))
    if n.budget_left is not None:
        rows.append(("budget", _budget(n)))
    return rows


# -- text and Markdown ----------------------------------------------------------------------------


def render_text(report: Report, view: View, exit_code: int) -> str:
    t = escape.text  # every value from a stack file or the Graph API, printed to a terminal or CI log
    lines = [
        f"WhatsApp Local Storage {view.title} for stack {t(report.stack.stack)} ({t(report.stack_file_label)})",
        f"Graph API {report.config.api_version} at {t(report.graph_api_url)}",
        f"Policy: {describe_policy(report.allowed_regions)}",
        "",
    ]
    if not report.numbers:
        lines += [f"No numbers declared under {t(report.stack.numbers_key)}.", ""]
    for n in report.numbers:
        head = f"{t(n.number_id)}  {view.label(n, report)}"
        if n.name:
            head += f"  {t(n.name)}"
        if n.live is not None and n.live.node.display_phone_number:
            head += f"  {t(n.live.node.display_phone_number)}"
        lines.append(head)
        lines += [f"  {label + ':':<11}{t(text)}" for label, text in _detail_lines(n, report, "->")]
        lines.append("")
    lines.append(f"Summary: {view.summary(report)}.")
    lines.append(f"Note: {note(report)}")
    return redact("\n".join(lines) + "\n")


def md(text: object) -> str:
    """Text for a Markdown table cell or line (``escape.markdown``). The pull request writes names,
    IDs and paths, and the plan is posted for its reviewers: raw HTML (an unclosed ``<!--``,
    ``</details>``) would hide the rows after it, and a pipe would split a cell."""
    return escape.markdown(text)


def render_markdown(report: Report, view: View, exit_code: int) -> str:
    lines = [
        f"### WhatsApp Local Storage {view.title}: stack {escape.code(report.stack.stack)}",
        "",
        f"{escape.code(report.stack_file_label)} against the live numbers (Graph API {report.config.api_version}): "
        f"**{md(view.summary(report))}**.",
        "",
    ]
    if report.allowed_regions is not None:
        lines += [f"Policy: {describe_policy(report.allowed_regions)}.", ""]
    if report.numbers:
        budget, policy = report.state is not None, report.allowed_regions is not None
        windows = any(n.gate is not None for n in report.numbers)
        header = ["Number", "Name", "Status", "Live", "Declared", "Calls", "Offline", "Preflight"]
        header += (["Policy"] if policy else []) + (["Window"] if windows else []) + (["Budget left"] if budget else [])
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for n in report.numbers:
            row = [escape.code(n.number_id), md(n.name or ""), view.label(n, report), md(_live_short(n.live)),
                   md(_declared_short(n)), md(_calls(n.plan, "→")), _offline(n), _preflight_short(n)]
            if policy:
                row.append(_policy_short(n))
            if windows:
                row.append(md(_window_short(n)))
            if budget:
                row.append("-" if n.budget_left is None else f"{n.budget_left} of {REGISTER_BUDGET}")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    else:
        lines += [f"No numbers declared under {escape.code(report.stack.numbers_key)}.", ""]
    detailed = [n for n in report.numbers if n.status != "in_sync" or n.warnings or n.live_complies_with_policy is False]
    for n in detailed:
        title_bits = [b for b in (n.name, n.live.node.display_phone_number if n.live else None) if b]
        lines.append(f"#### {escape.code(n.number_id)}" + (f" ({md(', '.join(title_bits))})" if title_bits else "")
                     + f": {view.label(n, report)}")
        lines.append("")
        for label, text in _detail_lines(n, report, "→"):
            shown = escape.code(text) if label == "calls" and n.plan and n.plan.calls else md(text)
            lines.append(f"- **{label}**: {shown}")
        lines.append("")
    if report.numbers and not detailed:
        lines += ["Nothing to change: every declared number matches its live state.", ""]
    lines.append(f"> {note(report)}")
    return redact("\n".join(lines) + "\n")


# -- JSON -----------------------------------------------------------------------------------------


def _number_json(n: NumberReport) -> dict[str, Any]:
    live = None
    if n.live is not None:
        live = {
            "region": n.live.region,
            "storage_status": n.live.storage_status.value,
            "registered": n.live.registered,
            "code_verification_status": n.live.node.code_verification_status,
            "is_on_biz_app": n.live.node.is_on_biz_app,
            "display_phone_number": n.live.node.display_phone_number,
        }
    declared = None
    if n.declared is not None:
        declared = {**n.declared, "pin": n.pin}
        if not n.removed:
            declared["registered"] = True
    return {
        "phone_number_id": n.number_id,
        "name": n.name,
        "status": n.status,
        "drift": n.drifted,
        "live": live,
        "declared": declared,
        "invalid": n.invalid or n.policy_blocks_declaration,
        "calls": [str(call) for call in n.plan.calls] if n.plan else [],
        "steps": n.plan.steps if n.plan else [],
        "offline": bool(n.plan and n.plan.deregisters),
        # A count: `registration_calls` is the name of the output that holds timestamps.
        "registration_call_count": n.plan.registration_call_count if n.plan else 0,
        "preflight": {"ok": n.plan is not None and not n.problems,
                      "problems": [p.render(STACK_SPELLING) for p in n.problems]},
        "policy": None if n.allowed_regions is None else {
            "live_complies": n.live_complies_with_policy,
            "declared_complies": None if n.declared_region is None else not n.policy_blocks_declaration,
        },
        "warnings": [w.render(STACK_SPELLING) for w in n.warnings],
        "window": _window_json(n),
        "in_state": n.in_state,
        "budget": None if n.budget_used is None else {
            "limit": REGISTER_BUDGET, "used": n.budget_used, "left": n.budget_left,
        },
        "error": n.error,
    }


def outcome_error(report: Report, exit_code: int) -> str | None:
    """The JSON document's ``error`` for a run that completed with exit 1: what made it fail."""
    if exit_code != exits.ERROR:
        return None
    parts = []
    if report.count("error"):
        parts.append(f"{_plural(report.count('error'), 'number')} could not be checked (see numbers[].error)")
    if report.count("refused"):
        parts.append(f"{_plural(report.count('refused'), 'number')} refused by preflight")
    if report.refused_deletes:
        parts.append(f"the delete of {_plural(len(report.refused_deletes), 'removed number')} (on_delete=disable) "
                     "refused by preflight")
    clause = blocked_clause(report)
    if clause:
        parts.append(clause)
    return "; ".join(parts) or "failed"


def render_json(report: Report, view: View, exit_code: int) -> str:
    blocked = bool(report.blocking_entries)
    data = {
        "command": view.command,
        "version": __version__,
        "project": report.stack.project,
        "stack": report.stack.stack,
        "stack_file": report.stack_file_label,
        "api_version": report.config.api_version,
        "graph_api_url": report.graph_api_url,
        "allowed_regions": None if report.allowed_regions is None else sorted(report.allowed_regions),
        "reads_pulumi_state": report.state is not None,
        "read_at": format_time(report.read_at),
        "note": note(report),
        "numbers": [_number_json(n) for n in report.numbers],
        "summary": {
            "numbers": len(report.numbers),
            "in_sync": report.count("in_sync"),
            # what `pulumi up` would change: nothing while an entry stops the stack program
            "change": 0 if blocked else report.count("change"),
            "blocked_changes": report.count("change") if blocked else 0,
            "refused": report.count("refused"),
            "error": report.count("error"),
            "removed": report.count("removed"),
            "drift": report.drift_count,
            "invalid": len(report.blocking_entries),
            "policy_violations": len(report.policy_violations),
        },
        "error": outcome_error(report, exit_code),
        "exit_code": exit_code,
    }
    return redact(json.dumps(data, indent=2, sort_keys=True)) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
