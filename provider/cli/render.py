"""What plan and drift say, shared by their renderers, and the text renderer.

The renderers only read the report, and every rendering passes through ``redact`` last: a
secret that reached a name, a Graph message or an error is masked in the output as a whole (a
PIN only as a whole run of digits). Text is here; Markdown (capped for a pull-request comment)
is ``markdown``; JSON is ``document``.

What differs between ``plan`` and ``drift`` (title, status words, summary sentence, which numbers
have something to say) is a ``View``, data chosen by the command; problems are rendered with the
stack file's spelling (``STACK_SPELLING``), since these commands read a stack file.

At fleet scale a review needs what changes, not 700 unchanged numbers: text and Markdown list the
numbers with something to say, most urgent first (``report.URGENCY``), and count the rest;
``Options.show_sames`` lists every number. JSON always holds every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .. import escape, lifecycle
from ..compliance import SETTING, describe_policy, verdict
from ..models import LiveNumber, id_order
from ..planner import Plan
from ..redact import redact
from ..regions import describe
from ..safety import REGISTER_BUDGET, STACK_SPELLING
from ..wording import counted as _plural
from .provenance import Provenance
from .report import DRIFT as DRIFT_STATUS
from .report import ERROR, IN_SYNC, PENDING, POLICY, QUIET, NumberReport, Report

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
# drift without --state: what it cannot tell apart
NOTE_NO_PENDING = ("Without --state nothing can be pending: a change merged but not deployed yet reads as drift. "
                   "Pass --state FILE (`pulumi stack export`) to tell the two apart.")


@dataclass(frozen=True)
class Options:
    """How a plan or drift is printed, beyond its format."""

    provenance: Provenance
    show_sames: bool = False  # list every number, not only those with something to say
    capped: bool = True  # Markdown: stay under markdown.CAP bytes (a pull-request comment)
    full_output: str | None = None  # where the uncapped output was written, to name in the capped one


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
    return f"nothing would change (the stack file has {what}, and `pulumi up` would stop before declaring any resource)"


def plan_summary(report: Report) -> str:
    total = len(report.numbers)
    blocked = blocked_clause(report)
    # every status counted, the changes as blocked while an entry stops the stack program
    parts = [blocked] if blocked else []
    counts = [f"{report.count('change')} {'blocked' if blocked else 'to change'}", f"{report.count('in_sync')} in sync",
              f"{report.count('refused')} refused by preflight", _plural(report.count("error"), "error")]
    # while an entry stops the program nothing runs: only the counts that say something
    parts += [part for part in counts if not (blocked and part.startswith("0 "))]
    if report.count("removed"):
        parts.append(f"{report.count('removed')} removed")
    if report.refused_deletes:
        parts.append(f"{_plural(len(report.refused_deletes), 'delete')} refused by preflight")
    if report.policy_violations:
        parts.append(f"{len(report.policy_violations)} outside allowedRegions")
    return f"{_plural(total, 'number')}: " + ", ".join(parts)


# drift's statuses in its summary, most urgent first; every declared number has exactly one
_DRIFT_WORDS = ((ERROR, "error", "errors"), (POLICY, "outside allowedRegions", None), (DRIFT_STATUS, "drift", None),
                (PENDING, "pending (merged, not deployed)", None), (IN_SYNC, "in sync", None))


def drift_summary(report: Report) -> str:
    total = sum(not n.removed for n in report.numbers)
    counts = [(report.sync_count(status), one, many) for status, one, many in _DRIFT_WORDS]
    parts = [_plural(count, one, many or one) for count, one, many in counts if count]
    head = _plural(total, "number") + (": " + ", ".join(parts) if parts else "")
    if what := _blocking_entries_text(report):  # an entry outside the policy is not an invalid one
        head += f"; the stack file has {what}"
    return head


@dataclass(frozen=True)
class View:
    """How one command presents a report."""

    command: str
    title: str
    labels: Mapping[str, str]  # plan: by ``status``; drift: by ``sync_status``
    summary: Callable[[Report], str]
    drift_view: bool = False  # statuses are drift's (in sync, pending, drift, policy, error)
    blocked_change_label: str | None = None  # a change that cannot happen while the stack file is invalid

    def status(self, n: NumberReport) -> str:
        """The number's status word in JSON."""
        return n.sync_status if self.drift_view and not n.removed else n.status

    def label(self, n: NumberReport, report: Report) -> str:
        if n.status == "change" and self.blocked_change_label and report.blocking_entries:
            return self.blocked_change_label
        return self.labels[self.status(n)]

    def notes(self, report: Report) -> list[str]:
        notes = [NOTE_STATE if report.state is not None else NOTE_NO_STATE]
        if self.drift_view and report.state is None:
            notes.append(NOTE_NO_PENDING)
        return notes


PLAN = View("plan", "plan", {"error": "ERROR", "in_sync": "in sync", "change": "will change", "refused": "REFUSED",
                             "removed": "removed"}, plan_summary, blocked_change_label="blocked")
DRIFT = View("drift", "drift check", {ERROR: "ERROR", IN_SYNC: "in sync", DRIFT_STATUS: "DRIFT", PENDING: "pending",
                                      POLICY: "OUTSIDE POLICY", "removed": "removed"}, drift_summary, drift_view=True)


def note(report: Report) -> str:
    return NOTE_STATE if report.state is not None else NOTE_NO_STATE


def listing(report: Report, view: View) -> tuple[list[NumberReport], list[NumberReport]]:
    """The numbers with something to say, most urgent first (then by ID), and the quiet ones (by ID)."""
    ranked = sorted(report.numbers, key=lambda n: (n.urgency(view.drift_view), id_order(n.number_id)))
    loud = [n for n in ranked if n.urgency(view.drift_view) < QUIET]
    return loud, ranked[len(loud):]


def quiet_line(quiet: list[NumberReport], options: Options) -> str | None:
    """``697 in sync``: the numbers not listed (or, with --show-sames, listed after the others)."""
    if not quiet:
        return None
    said = "listed after the others" if options.show_sames else "not listed: --show-sames lists them"
    return f"{len(quiet)} in sync ({said})"


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


def _state_lines(n: NumberReport, drift_view: bool) -> list[tuple[str, str]]:
    """What the state file says about the number: a hand change, or a change merged and not deployed."""
    if n.in_state is False:
        return [("state", "new to the stack: `pulumi up` creates its resource")] if drift_view else []
    if n.state is None or n.live is None:
        return []
    recorded = n.state.outputs
    rows: list[tuple[str, str]] = []
    if n.live_differs_from_state:
        was = recorded.get("region") or recorded.get("storage_status") or "unknown"
        flag = recorded.get("registered")
        registered = "" if not isinstance(flag, bool) else (", registered" if flag else ", not registered")
        rows.append(("state", f"Pulumi recorded {was}{registered}: changed outside Pulumi since"))
    elif drift_view and n.sync_status == "pending":
        deployed = lifecycle.declared_region(recorded) or "unknown"
        rows.append(("state", f"deployed as {deployed}, declared {n.declared_region}: merged, not deployed yet"))
    if drift_view and n.sync_status == "pending":
        rows.append(("can go", n.can_go))
    return rows


def _detail_lines(n: NumberReport, report: Report, arrow: str, drift_view: bool = False) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if n.live is not None:
        rows.append(("live", _live_long(n.live)))
    rows.append(("declared", _declared_long(n)))
    rows += _state_lines(n, drift_view)
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




# -- text -------------------------------------------------------------------------------------------


def render_text(report: Report, view: View, exit_code: int, options: Options) -> str:
    t = escape.text  # every value from a stack file or the Graph API, printed to a terminal or CI log
    lines = [
        f"WhatsApp Local Storage {view.title} for stack {t(report.stack.stack)} ({t(report.stack_file_label)})",
        *(t(line) for line in options.provenance.lines()),
        f"Policy: {describe_policy(report.allowed_regions)}",
        "",
    ]
    if not report.numbers:
        lines += [f"No numbers declared under {t(report.stack.numbers_key)}.", ""]
    loud, quiet = listing(report, view)
    for n in loud + (quiet if options.show_sames else []):
        head = f"{t(n.number_id)}  {view.label(n, report)}"
        if n.name:
            head += f"  {t(n.name)}"
        if n.live is not None and n.live.node.display_phone_number:
            head += f"  {t(n.live.node.display_phone_number)}"
        lines.append(head)
        lines += [f"  {label + ':':<11}{t(text)}" for label, text in _detail_lines(n, report, "->", view.drift_view)]
        lines.append("")
    if said := quiet_line(quiet, options):
        lines += [f"{said}.", ""]
    lines.append(f"Summary: {view.summary(report)}.")
    lines += [f"Note: {text}" for text in view.notes(report)]
    return redact("\n".join(lines) + "\n")
