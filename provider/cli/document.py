"""The plan and drift as one JSON document, for pipelines: every number, always.

It carries the provenance (read time, commits, the API version served) as data, so that nothing
but the document is on stdout.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__, exits
from ..redact import redact
from ..safety import REGISTER_BUDGET, STACK_SPELLING
from ..wording import counted as _plural
from .render import Options, View, _window_json, blocked_clause, note
from .report import DRIFT as DRIFT_STATUS
from .report import PENDING, SYNC_STATUSES, NumberReport, Report


def _number_json(n: NumberReport, view: View) -> dict[str, Any]:
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
        "status": view.status(n),
        # drift: changed outside Pulumi (with --state) or not as declared (without); plan: not as declared
        "drift": n.sync_status == DRIFT_STATUS if view.drift_view else n.drifted,
        "sync_status": None if n.removed else n.sync_status,
        "can_go": n.can_go if not n.removed and n.sync_status == PENDING else None,
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


def _summary(report: Report, view: View) -> dict[str, int]:
    blocked = bool(report.blocking_entries)
    summary = {
        "numbers": len(report.numbers),
        "in_sync": report.count("in_sync"),
        # what `pulumi up` would change: nothing while an entry stops the stack program
        "change": 0 if blocked else report.count("change"),
        "blocked_changes": report.count("change") if blocked else 0,
        "refused": report.count("refused"),
        "error": report.count("error"),
        "removed": report.count("removed"),
        "drift": report.drift_count,
        "pending": report.sync_count(PENDING),
        "invalid": len(report.blocking_entries),
        "policy_violations": len(report.policy_violations),
    }
    if view.drift_view:  # drift's statuses: each declared number counted once
        summary.update({status: report.sync_count(status) for status in SYNC_STATUSES})
    return summary


def render_json(report: Report, view: View, exit_code: int, options: Options) -> str:
    data = {
        "command": view.command,
        "version": __version__,
        "project": report.stack.project,
        "stack": report.stack.stack,
        "stack_file": report.stack_file_label,
        "graph_api_url": report.graph_api_url,
        "allowed_regions": None if report.allowed_regions is None else sorted(report.allowed_regions),
        "reads_pulumi_state": report.state is not None,
        **options.provenance.as_json(),  # read_at, the commits, api_version and the version Meta serves
        "note": note(report),
        "notes": view.notes(report),
        "numbers": [_number_json(n, view) for n in report.numbers],
        "summary": _summary(report, view),
        "error": outcome_error(report, exit_code),
        "exit_code": exit_code,
    }
    return redact(json.dumps(data, indent=2, sort_keys=True)) + "\n"

