"""``python -m provider``: what a dynamic provider cannot show a reviewer or an on-call engineer.

Pulumi shows a dynamic resource's update as a bare ``~``. ``plan`` and ``drift`` compare the
numbers declared in a stack file with the live numbers and print, per number, the exact calls
``pulumi up`` would make, whether the number goes offline and what preflight says. They only
read: the plan and the preflight are the provider's own (``Executor.plan_for``,
``safety.preflight``), never a copy. ``verify`` runs Meta's request_code/verify_code steps, and
``regions`` lists the region codes.

Exit codes: 0 ok (``drift``: in sync), 1 an error (``plan``: also a plan that preflight would
refuse), 2 a usage error, 7 drift found (Pulumi's code for changes under --expect-no-changes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from .client import GraphClient
from .config import ProviderConfig
from .errors import AuthenticationFailed, ConfigurationError, ObjectNotFound, WhatsAppError
from .executor import Executor
from .safety import (
    REGISTER_BUDGET,
    STACK_SPELLING,
    Desired,
    Problem,
    create_cutover_problem,
    preflight,
    recent_calls,
    utcnow,
)
from .inputs import from_stack_entry
from .models import LiveNumber
from .planner import Plan
from .redact import redact
from .regions import AREAS, DEFAULT, REGIONS, describe
from .stackfile import Secure, StackFile, StackFileError, load_stack, load_state

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DRIFT = 0, 1, 2, 7
PROG = "python -m provider"
FORMATS = ("text", "markdown", "json")
READ_WORKERS = 8

# Stands in for a `secure:` PIN in the "PIN present and 6 digits" preflight check only. Never printed.
_PLACEHOLDER_PIN = "000000"

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


# -- what one number would do ----------------------------------------------------------------


@dataclass
class NumberReport:
    """One declared (or, with --state, removed) number: live state, plan, preflight, budget."""

    number_id: str
    name: str | None = None
    declared: dict[str, Any] | None = None
    pin: str = "missing"  # "plain", "secure" (declared, encrypted) or "missing"
    live: LiveNumber | None = None
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    in_state: bool | None = None  # None: no --state given
    budget_used: int | None = None
    removed: bool = False

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.removed:
            return "removed"
        if self.plan is None or self.plan.in_sync:
            return "in_sync"
        return "refused" if self.problems else "change"

    @property
    def drifted(self) -> bool:
        """Declared and live differ: converging would make a call (even one preflight refuses)."""
        return self.status in ("change", "refused")

    @property
    def budget_left(self) -> int | None:
        return None if self.budget_used is None else max(0, REGISTER_BUDGET - self.budget_used)


@dataclass
class Report:
    command: str
    stack: StackFile
    config: ProviderConfig
    state_file: str | None
    numbers: list[NumberReport]

    def count(self, status: str) -> int:
        return sum(n.status == status for n in self.numbers)

    @property
    def drift_count(self) -> int:
        return sum(n.drifted for n in self.numbers)

    @property
    def exit_code(self) -> int:
        if self.count("error"):
            return EXIT_ERROR
        if self.command == "drift":
            return EXIT_DRIFT if self.drift_count else EXIT_OK
        return EXIT_ERROR if any(n.problems for n in self.numbers) else EXIT_OK

    @property
    def stack_file_label(self) -> str:
        return self.stack.path.relative_to(self.stack.project_dir).as_posix()

    @property
    def note(self) -> str:
        return NOTE_STATE if self.state_file else NOTE_NO_STATE


def _sort_key(number_id: str) -> tuple[int, str]:
    return (len(number_id), number_id)


def _pin_status(entry: Any) -> str:
    pin = entry.get("pin") if isinstance(entry, Mapping) else None
    if isinstance(pin, Secure):
        return "secure"
    return "missing" if pin is None else "plain"


def _without_secrets(entry: Any) -> Any:
    """The entry as the input rules should see it: a `secure:` PIN becomes a stand-in value."""
    if isinstance(entry, Mapping) and isinstance(entry.get("pin"), Secure):
        return {**entry, "pin": _PLACEHOLDER_PIN}
    return entry


def _name(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return None if name is None else str(name)


def _cannot_see(number_id: str, exc: ObjectNotFound) -> str:
    return (f"cannot see number {number_id}: deleted, or the token lacks permission to see it "
            f"({exc.reference}); check the phone number ID and the token's access to its business account")


def _assess(executor: Executor, report: NumberReport, desired: Desired, *, allow_cutover_on_create: bool,
            prior_calls: Sequence[object], now: datetime, command: str) -> None:
    """Read the number, plan and preflight it exactly as the provider would, into ``report``."""
    number_id = report.number_id
    try:
        live = executor.read(number_id, reuse=False)
    except AuthenticationFailed:
        raise  # the token is wrong for every number: one error, not one per number
    except ObjectNotFound as exc:
        report.error = _cannot_see(number_id, exc)
        return
    except WhatsAppError as exc:
        report.error = str(exc)
        return
    plan = executor.plan_for(number_id, live, desired)
    prior = recent_calls(prior_calls, now)
    report.live, report.plan = live, plan
    # breaker=None: the circuit breaker belongs to one `pulumi up` process, not to this command.
    report.problems = preflight(plan, live, desired, prior_calls=prior, now=now, breaker=None)
    if report.in_state is not None:
        report.budget_used = len(prior)
    refusal = create_cutover_problem(plan, live, desired.region)
    if refusal and not allow_cutover_on_create and not report.removed:
        if report.in_state is False:
            report.problems.insert(0, Problem(refusal.rule, "the number is new to the stack, so `pulumi up` creates "
                                                            f"its resource: {refusal.message}"))
        elif report.in_state is None and command == "plan":
            report.warnings.append(
                "if this number is not in the stack's state yet, `pulumi up` creates its resource and refuses "
                "this cutover: declare its current region first, then change it in a separate update "
                "(pass --state to know)")


@dataclass(frozen=True)
class _Job:
    report: NumberReport
    desired: Desired
    allow_cutover_on_create: bool
    prior_calls: Sequence[object]


def build_report(command: str, stack: StackFile, config: ProviderConfig, *,
                 state_file: str | None = None, now: datetime | None = None) -> Report:
    now = now or utcnow()
    state = load_state(Path(state_file)) if state_file else None
    declared = stack.phone_numbers()
    reports: list[NumberReport] = []
    jobs: list[_Job] = []
    for number_id in sorted(declared, key=_sort_key):
        entry = declared[number_id]
        report = NumberReport(number_id, name=_name(entry), pin=_pin_status(entry),
                              in_state=None if state is None else number_id in state)
        reports.append(report)
        inputs, failures = from_stack_entry(number_id, _without_secrets(entry))
        if failures:
            report.error = "invalid declaration: " + "; ".join(map(str, failures))
            continue
        report.declared = {k: v for k, v in inputs.items() if k not in ("pin", "phone_number_id")}
        desired = Desired(inputs["region"], inputs.get("pin"), bool(inputs.get("enforce_pin")))
        prior = (state or {}).get(number_id, {}).get("registration_calls") or []
        jobs.append(_Job(report, desired, bool(inputs.get("allow_cutover_on_create")), prior))
    if command == "plan" and state is not None:
        for number_id in sorted(set(state) - set(declared), key=_sort_key):
            outputs = state[number_id]
            pin = None if outputs.get("pin") is None else _PLACEHOLDER_PIN  # encrypted in the export
            report = NumberReport(number_id, in_state=True, removed=True, pin="missing" if pin is None else "secure",
                                  declared={"on_delete": outputs.get("on_delete") or "retain"})
            reports.append(report)
            if report.declared["on_delete"] == "disable":
                desired = Desired(DEFAULT, pin, bool(outputs.get("enforce_pin")))
                jobs.append(_Job(report, desired, True, outputs.get("registration_calls") or []))
    if jobs:
        executor = Executor(GraphClient(config))
        try:
            with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(jobs))) as pool:
                futures = [pool.submit(_assess, executor, job.report, job.desired,
                                       allow_cutover_on_create=job.allow_cutover_on_create,
                                       prior_calls=job.prior_calls, now=now, command=command) for job in jobs]
                for future in futures:
                    future.result()
        finally:
            executor.client.close()
    reports.sort(key=lambda r: _sort_key(r.number_id))
    return Report(command, stack, config, state_file, reports)


# -- rendering --------------------------------------------------------------------------------


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
            extras.append(key)
    if n.declared.get("on_delete") == "disable":
        extras.append("on_delete=disable")
    return f"{describe(n.declared['region'])}, registered ({', '.join(extras)})"


def _calls(plan: Plan | None, arrow: str) -> str:
    if plan is None:
        return "-"
    return f" {arrow} ".join(map(str, plan.calls)) if plan.calls else "none"


def _offline(n: NumberReport) -> str:
    if n.plan is None:
        return "-"
    return "yes" if n.plan.deregisters else "no"


def _preflight_short(n: NumberReport) -> str:
    if n.status == "error":
        return "error"
    if n.plan is None:
        return "-"
    return f"refused ({len(n.problems)})" if n.problems else "ok"


def _budget(n: NumberReport) -> str:
    if n.budget_left is None:
        return "-"
    text = f"{n.budget_left} of {REGISTER_BUDGET} left in the last 72 hours"
    if n.in_state is False:
        text += " (new to the stack)"
    if n.plan is not None and n.plan.registration_calls:
        text += f"; this plan uses {n.plan.registration_calls}"
    return text


def _status_label(n: NumberReport, command: str) -> str:
    if command == "drift":
        return {"error": "ERROR", "in_sync": "in sync"}.get(n.status, "DRIFT")
    return {"error": "ERROR", "in_sync": "in sync", "change": "will change", "refused": "REFUSED",
            "removed": "removed"}[n.status]


def _summary(report: Report) -> str:
    total = len(report.numbers)
    if report.command == "drift":
        head = (f"drift found in {report.drift_count} of {total} numbers" if report.drift_count
                else f"all {total} numbers in sync")
        return head + (f", {report.count('error')} errors" if report.count("error") else "")
    parts = [f"{report.count('change')} to change", f"{report.count('in_sync')} in sync",
             f"{report.count('refused')} refused by preflight", f"{report.count('error')} errors"]
    if report.count("removed"):
        parts.append(f"{report.count('removed')} removed")
    return f"{total} numbers: " + ", ".join(parts)


def _detail_lines(n: NumberReport, arrow: str) -> list[tuple[str, str]]:
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
    rows.extend(("warning", warning) for warning in n.warnings)
    if n.budget_left is not None:
        rows.append(("budget", _budget(n)))
    return rows


def render_text(report: Report) -> str:
    title = "WhatsApp Local Storage drift check" if report.command == "drift" else "WhatsApp Local Storage plan"
    lines = [
        f"{title} for stack {report.stack.stack} ({report.stack_file_label})",
        f"Graph API {report.config.api_version} at {redact(report.config.graph_api_url)}",
        "",
    ]
    if not report.numbers:
        lines += [f"No numbers declared under {report.stack.numbers_key}.", ""]
    for n in report.numbers:
        head = f"{n.number_id}  {_status_label(n, report.command)}"
        if n.name:
            head += f"  {n.name}"
        if n.live is not None and n.live.node.display_phone_number:
            head += f"  {n.live.node.display_phone_number}"
        lines.append(head)
        lines += [f"  {label + ':':<11}{text}" for label, text in _detail_lines(n, "->")]
        lines.append("")
    lines.append(f"Summary: {_summary(report)}.")
    lines.append(f"Note: {report.note}")
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    title = "drift check" if report.command == "drift" else "plan"
    lines = [
        f"### WhatsApp Local Storage {title}: stack `{report.stack.stack}`",
        "",
        f"`{report.stack_file_label}` against the live numbers (Graph API {report.config.api_version}): "
        f"**{_summary(report)}**.",
        "",
    ]
    if report.numbers:
        budget = report.state_file is not None
        lines.append("| Number | Name | Status | Live | Declared | Calls | Offline | Preflight |"
                     + (" Budget left |" if budget else ""))
        lines.append("|---|---|---|---|---|---|---|---|" + ("---|" if budget else ""))
        for n in report.numbers:
            row = [f"`{n.number_id}`", _md(n.name or ""), _status_label(n, report.command), _live_short(n.live),
                   _declared_short(n), _md(_calls(n.plan, "→")), _offline(n), _preflight_short(n)]
            if budget:
                row.append("-" if n.budget_left is None else f"{n.budget_left} of {REGISTER_BUDGET}")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    else:
        lines += [f"No numbers declared under `{report.stack.numbers_key}`.", ""]
    detailed = [n for n in report.numbers if n.status != "in_sync" or n.warnings]
    for n in detailed:
        title_bits = [b for b in (n.name, n.live.node.display_phone_number if n.live else None) if b]
        lines.append(f"#### `{n.number_id}`" + (f" ({_md(', '.join(title_bits))})" if title_bits else "")
                     + f": {_status_label(n, report.command)}")
        lines.append("")
        for label, text in _detail_lines(n, "→"):
            shown = f"`{text}`" if label == "calls" and n.plan and n.plan.calls else _md(text)
            lines.append(f"- **{label}**: {shown}")
        lines.append("")
    if report.numbers and not detailed:
        lines += ["Nothing to change: every declared number matches its live state.", ""]
    lines.append(f"> {report.note}")
    return "\n".join(lines) + "\n"


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
        "calls": [str(call) for call in n.plan.calls] if n.plan else [],
        "steps": n.plan.steps if n.plan else [],
        "offline": bool(n.plan and n.plan.deregisters),
        "registration_calls": n.plan.registration_calls if n.plan else 0,
        "preflight": {"ok": n.plan is not None and not n.problems, "problems": [p.render(STACK_SPELLING) for p in n.problems]},
        "warnings": list(n.warnings),
        "in_state": n.in_state,
        "budget": None if n.budget_used is None else {
            "limit": REGISTER_BUDGET, "used": n.budget_used, "left": n.budget_left,
        },
        "error": n.error,
    }


def render_json(report: Report) -> str:
    data = {
        "command": report.command,
        "project": report.stack.project,
        "stack": report.stack.stack,
        "stack_file": report.stack_file_label,
        "api_version": report.config.api_version,
        "graph_api_url": redact(report.config.graph_api_url),
        "reads_pulumi_state": report.state_file is not None,
        "note": report.note,
        "numbers": [_number_json(n) for n in report.numbers],
        "summary": {
            "numbers": len(report.numbers),
            "in_sync": report.count("in_sync"),
            "change": report.count("change"),
            "refused": report.count("refused"),
            "error": report.count("error"),
            "removed": report.count("removed"),
            "drift": report.drift_count,
        },
        "exit_code": report.exit_code,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}


# -- commands ---------------------------------------------------------------------------------


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    stack = load_stack(args.stack, args.project_dir)
    config = stack.provider_config()
    report = build_report(args.command, stack, config, state_file=args.state)
    out.write(RENDERERS[args.format](report))
    return report.exit_code


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    config = (load_stack(args.stack, args.project_dir).provider_config() if args.stack
              else ProviderConfig.load({}))
    number_id = args.phone_number_id
    client = GraphClient(config)
    try:
        code = args.code
        if code is None:
            client.request_code(number_id, args.method, args.language)
            print(f"Requested a verification code for {number_id} by {args.method} ({args.language}).",
                  file=out, flush=True)
            try:
                code = input("Enter the code you received: ").strip()
            except EOFError:
                code = ""
            if not code:
                raise ConfigurationError("no code entered: run again with --code CODE once the code arrives")
        client.verify_code(number_id, code)
        node = client.get_number(number_id)
    finally:
        client.close()
    print(f"{number_id}: code_verification_status {node.code_verification_status}.", file=out)
    if node.verified:
        print("The number can register now: `pulumi up` registers it with its declared region.", file=out)
        return EXIT_OK
    return EXIT_ERROR


def _regions(_args: argparse.Namespace, out: TextIO) -> int:
    lines = ["Local Storage regions (ISO 3166-1 alpha-2 codes) by area:"]
    for area, codes in AREAS.items():
        lines.append(f"  {area}")
        lines += [f"    {code}  {REGIONS[code]}" for code in codes]
    lines.append(f"  {DEFAULT}")
    lines.append(f"    {DEFAULT}  Meta's default storage (local storage off); it must be declared, never implied")
    lines.append("UK and EU are not codes: the United Kingdom is GB, Meta's EU region is DE (Germany).")
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def _phone_number_id(value: str) -> str:
    if not re.fullmatch(r"[0-9]+", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a phone number ID (digits only)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Show what `pulumi up` would do to WhatsApp numbers' Local Storage, detect drift, "
                    "verify a number, list regions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def stack_options(cmd: argparse.ArgumentParser, required: bool) -> None:
        cmd.add_argument("--stack", required=required, metavar="NAME",
                         help="read stacks/Pulumi.NAME.yaml (the project's stackConfigDir)")
        cmd.add_argument("--project-dir", type=Path, default=None, metavar="DIR",
                         help="the directory with Pulumi.yaml (default: the working directory or above it)")

    for name, text in (("plan", "per declared number: live -> declared, the exact calls, offline or not, "
                                "preflight; read-only"),
                       ("drift", "like plan, for scheduled runs: exit 0 in sync, 7 drift found, 1 error")):
        cmd = commands.add_parser(name, help=text, description=text)
        stack_options(cmd, required=True)
        cmd.add_argument("--format", choices=FORMATS, default="text")
        cmd.add_argument("--state", metavar="FILE",
                         help="a `pulumi stack export` file: adds the register budget and new/removed numbers")
        cmd.set_defaults(run=_compare)

    verify = commands.add_parser("verify", help="request a verification code, then verify it",
                                 description="request_code then verify_code (prompts for the code unless --code "
                                             "is given, in which case only verify_code is sent)")
    verify.add_argument("--phone-number-id", required=True, type=_phone_number_id, metavar="ID")
    verify.add_argument("--method", choices=("SMS", "VOICE"), default="SMS", type=str.upper)
    verify.add_argument("--language", default="en_US")
    verify.add_argument("--code", help="a code already received: verify it without requesting a new one")
    stack_options(verify, required=False)
    verify.set_defaults(run=_verify)

    regions = commands.add_parser("regions", help="the supported regions and their codes")
    regions.set_defaults(run=_regions)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error (or --help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.run(args, out)
    except StackFileError as exc:
        print(f"{PROG} {args.command}: error: {redact(exc)}", file=err)
        return EXIT_USAGE
    except (WhatsAppError, OSError) as exc:
        print(f"{PROG} {args.command}: error: {redact(exc)}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=err)
        return EXIT_ERROR
