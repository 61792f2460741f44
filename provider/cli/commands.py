"""The commands: each one is its arguments, its exit codes and a ``run`` that reads, then renders.

A command is a ``Command`` value; ``COMMANDS`` lists them in the order ``--help`` shows. Adding
one is a new ``Command`` (here or in its own module) and one entry in ``COMMANDS``. The exit
code is each command's own decision, made from the report's data.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from .. import clock, escape, exits, onboard
from ..client import GraphClient
from ..compliance import allowed_regions_from
from ..config import ProviderConfig
from ..errors import ConfigurationError, InvalidParameter, StackFileError, UsageError
from ..inputs import is_ascii_digits
from ..notices import Notices
from ..regions import AREAS, DEFAULT, REGIONS
from ..stackfile import available_stacks, find_project_dir, load_stack, load_state
from . import evidence, provenance, targets
from ..progress import Progress
from ..reads import unlisted_notice
from .document import render_json
from .markdown import render_markdown
from .render import DRIFT, PLAN, Options, View, render_text
from .report import PENDING, POLICY, Report, Scope, assess
from .report import DRIFT as DRIFT_STATUS

RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
# stdout holds rows only: the provenance header goes to stderr (JSON carries it in its one document)
MACHINE_FORMATS = ("csv",)


@dataclass(frozen=True)
class Streams:
    out: TextIO  # the report, and nothing else
    err: TextIO  # progress and errors

    def notices(self, config: ProviderConfig | None = None) -> Notices:
        """The command's notice sink (stderr), having said what the clock and ``config`` have to say."""
        notices = Notices(self.err)
        notices.once(clock.notice())
        if config is not None:
            notices.all_once(config.notices)
        return notices


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    exit_codes: tuple[tuple[exits.ExitCode, str], ...]  # never a literal: the codes are exits' table
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Streams], int]
    description: str = ""
    formats: tuple[str, ...] = field(default=())  # the first is the default; "json" means one document always

    def epilog(self) -> str:
        return "exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in self.exit_codes)


def _stack_options(cmd: argparse.ArgumentParser, *, required: bool) -> None:
    """``-s``/``--stack`` and ``-C``/``--cwd`` as ``pulumi`` spells them; ``--project-dir`` is the
    older spelling of ``--cwd``, kept so that scripts written against it keep working."""
    cmd.add_argument("-s", "--stack", required=required, metavar="NAME",
                     help="read stacks/Pulumi.NAME.yaml (the project's stackConfigDir)")
    cmd.add_argument("-C", "--cwd", "--project-dir", dest="project_dir", type=Path, default=None, metavar="DIR",
                     help="run as if started in DIR: the project is the nearest directory at or above it with a "
                          "Pulumi.yaml (default: the working directory); --project-dir is the same option")


def _state_option(cmd: argparse.ArgumentParser, text: str) -> None:
    cmd.add_argument("--state", metavar="FILE", help=f"a `pulumi stack export` file of this stack: {text}")


# -- reading a report -----------------------------------------------------------------------------


def read_report(args: argparse.Namespace, streams: Streams, scope: Scope) -> Report:
    """Every check that needs no call first (stack file, policy, state file), then the reads."""
    stack = load_stack(args.stack, args.project_dir)
    allowed = allowed_regions_from(stack.config)
    stack.phone_numbers()
    state = load_state(Path(args.state)) if args.state else None
    if state is not None:
        state.require_stack(stack)
    config = stack.provider_config()
    return assess(stack, config, allowed_regions=allowed, state=state, scope=scope,
                  progress=lambda total: Progress(streams.err, total), notices=streams.notices(config))


def plan_exit(report: Report) -> int:
    failed = report.count("error") or report.count("refused") or report.blocking_entries or report.refused_deletes
    return exits.ERROR if failed else exits.OK


def drift_exit(report: Report, *, fail_on_pending: bool = False) -> int:
    """1 for an error, 7 for drift or policy (and pending with --fail-on-pending), else 0."""
    if report.count("error"):
        return exits.ERROR
    failing = (DRIFT_STATUS, POLICY, PENDING) if fail_on_pending else (DRIFT_STATUS, POLICY)
    return exits.NONCOMPLIANT if any(report.sync_count(status) for status in failing) else exits.OK


def evidence_exit(report: Report) -> int:
    verdicts = [evidence.complies(n) for n in report.numbers if not n.removed]  # pending complies
    if None in verdicts:
        return exits.ERROR
    return exits.NONCOMPLIANT if False in verdicts else exits.OK


def _provenance(report: Report, args: argparse.Namespace, streams: Streams) -> provenance.Provenance:
    """Where the output comes from; on stderr too when stdout must stay one machine-readable document."""
    found = provenance.of(report.stack, report.config, report.read_at)
    if args.format in MACHINE_FORMATS:
        for line in found.lines():
            print(escape.text(line), file=streams.err)
    return found


def _write_full_output(path: Path, text: str) -> None:
    """The uncapped output beside the capped one, from the same read (written whole, or not at all)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _compare(view: View, scope: Callable[[argparse.Namespace], Scope], exit_code: Callable[[Report, argparse.Namespace], int]
             ) -> Callable[[argparse.Namespace, Streams], int]:
    def run(args: argparse.Namespace, streams: Streams) -> int:
        report = read_report(args, streams, scope(args))
        code = exit_code(report, args)
        found = _provenance(report, args, streams)
        Notices(streams.err).once(unlisted_notice(*report.unlisted))  # plan and drift: what wabaId would save
        options = Options(found, show_sames=args.show_sames,
                          full_output=Path(args.full_output).name if args.full_output else None)
        render = RENDERERS[args.format]
        if args.full_output:
            _write_full_output(Path(args.full_output), render(report, view, code, Options(
                options.provenance, show_sames=True, capped=False)))
        streams.out.write(render(report, view, code, options))
        return code
    return run


def _report(args: argparse.Namespace, streams: Streams) -> int:
    report = read_report(args, streams, Scope())
    code = evidence_exit(report)
    streams.out.write(evidence.RENDERERS[args.format](report, code, _provenance(report, args, streams)))
    return code


def _compare_arguments(state_text: str, *, review: bool = True) -> Callable[[argparse.ArgumentParser], None]:
    def arguments(cmd: argparse.ArgumentParser) -> None:
        _stack_options(cmd, required=True)
        _state_option(cmd, state_text)
        if review:
            cmd.add_argument("--show-sames", action="store_true",
                             help="list every number, also those in sync (by default text and Markdown list the "
                                  "numbers with something to say, most urgent first, and count the rest)")
            cmd.add_argument("--full-output", metavar="FILE",
                             help="also write the full output (every number, Markdown not capped) to FILE, from the "
                                  "same read: the capped Markdown names it")
    return arguments


def _drift_arguments(cmd: argparse.ArgumentParser) -> None:
    _compare_arguments("adds the register budget, and tells a change merged but not deployed (pending) from drift")(cmd)
    cmd.add_argument("--fail-on-pending", action="store_true",
                     help=f"exit {exits.NONCOMPLIANT} also when a number is pending (declared region not deployed yet)")


def _plan_arguments(cmd: argparse.ArgumentParser) -> None:
    _compare_arguments("adds the register budget, new and removed numbers")(cmd)
    cmd.add_argument("--wait-for-window", action="store_true",
                     help="a cutover refused only because it waits (outside its change windows, inside a blackout) "
                          "is shown as waiting, not as refused (pull-request review: merge any time, deploy when it "
                          "may go); an empty window list (never) stays a refusal")
    cmd.add_argument("--ready-targets", action="store_true",
                     help="with --state: print only the --target URNs of the resources `pulumi up` would change now, "
                          "one per line; every other number goes to stderr with its reason and when it can go "
                          "(a number refused, not only waiting, fails the command after the list)")
    cmd.set_defaults(plan_parser=cmd)


def _plan(args: argparse.Namespace, streams: Streams) -> int:
    if not args.ready_targets:
        return _compare(PLAN, lambda a: Scope(removed=a.state is not None, create_cutover_warning=a.state is None,
                                              wait_for_window=a.wait_for_window),
                        lambda report, _args: plan_exit(report))(args, streams)
    if (args.state is None or args.format != "text" or args.wait_for_window or getattr(args, "full_output", None)
            or getattr(args, "show_sames", False)):
        raise UsageError(args.plan_parser, "--ready-targets needs --state FILE (the URNs of state entries come from "
                                           "it) and takes no --format, --wait-for-window, --full-output or --show-sames")
    report = read_report(args, streams, Scope(removed=True))
    header = provenance.of(report.stack, report.config, report.read_at).lines()  # stdout stays a list of URNs
    return targets.ready_targets(report, streams.out, streams.err, header)


PLAN_COMMAND = Command(
    "plan", "per declared number: live -> declared, the exact calls, offline or not, preflight, policy; read-only",
    ((exits.OK, "every number can converge as declared (or already matches)"),
     (exits.ERROR, "an error, an invalid entry, or `pulumi up` would refuse a number"),
     (exits.USAGE, "a usage error: bad arguments, unknown stack, a state file of another stack")),
    _plan_arguments,
    _plan,
    formats=("text", "markdown", "json"))

DRIFT_COMMAND = Command(
    "drift", f"like plan, for scheduled runs: exit {exits.OK} in sync, {exits.NONCOMPLIANT} drift or a policy "
             f"violation found, {exits.ERROR} error",
    ((exits.OK, "every number matches its declaration (and allowedRegions)"),
     (exits.ERROR, "an error: token rejected, Graph API unreachable, number not visible, invalid entry"),
     (exits.USAGE, "a usage error: bad arguments, unknown stack, a state file of another stack"),
     (exits.NONCOMPLIANT, "drift found, or a number outside allowedRegions (Pulumi's code for changes under "
                          "--expect-no-changes); with --fail-on-pending, a pending number too")),
    _drift_arguments,
    _compare(DRIFT, lambda args: Scope(), lambda report, args: drift_exit(report, fail_on_pending=args.fail_on_pending)),
    formats=("text", "markdown", "json"))

REPORT_COMMAND = Command(
    "report", "a dated evidence snapshot for auditors: per number, live vs declared vs allowedRegions",
    ((exits.OK, "every number complies with its declaration and allowedRegions"),
     (exits.ERROR, "an error: a number could not be read or its entry is invalid"),
     (exits.USAGE, "a usage error: bad arguments, unknown stack, a state file of another stack"),
     (exits.NONCOMPLIANT, "a number does not comply")),
    _compare_arguments("adds the last applied change and when, and tells pending from drift", review=False),
    _report,
    description="When the numbers were read (UTC), through which API version, the policy, and per number its "
                "ID, display number, name, declared and live region, storage status, registered, and whether it "
                "complies with its declaration and the policy.",
    formats=("markdown", "csv", "json"))


# -- verify and regions ---------------------------------------------------------------------------


def _stacks_hint(project_dir: Path | None) -> str:
    try:
        names = available_stacks(find_project_dir(project_dir))
    except StackFileError:
        names = []
    example = "local" if "local" in names or not names else names[0]
    known = f" (stacks with a file: {', '.join(names)})" if names else ""
    return f"pass --stack NAME to use that stack's whatsapp:accessToken, e.g. --stack {example}{known}"


def _verify_config(args: argparse.Namespace) -> ProviderConfig:
    if args.stack:
        return load_stack(args.stack, args.project_dir).provider_config()
    config = ProviderConfig.load({})
    if not config.access_token:
        raise ConfigurationError("no access token: WHATSAPP_ACCESS_TOKEN is not set and no --stack was given; "
                                 + _stacks_hint(args.project_dir))
    return config


def _verify(args: argparse.Namespace, streams: Streams) -> int:
    out, number_id = streams.out, args.phone_number_id
    config = _verify_config(args)
    client = GraphClient(config, notices=streams.notices(config))
    try:
        node = client.get_number(number_id)
        if node.verified:
            print(f"{number_id} is already verified (code_verification_status "
                  f"{escape.text(node.code_verification_status)}): "
                  "no code requested.", file=out)
            return exits.OK
        code = args.code
        if code is None:
            client.request_code(number_id, args.method, args.language)
            print(f"Requested a verification code for {number_id} by {args.method} ({escape.text(args.language)}).",
                  file=out, flush=True)
            try:
                code = input("Enter the code you received: ").strip()
            except EOFError:
                code = ""
            if not code:
                raise ConfigurationError("no code entered: run again with --code CODE once the code arrives")
            if not is_ascii_digits(code):
                raise ConfigurationError("the code entered is not digits 0-9 only: run again with --code CODE, "
                                         "the digits of the code Meta sent")
        _verify_code(client, number_id, code, requested=args.code is None)
        node = client.get_number(number_id)
    finally:
        client.close()
    print(f"{number_id}: code_verification_status {escape.text(node.code_verification_status)}.", file=out)
    if node.verified:
        print("The number can register now: `pulumi up` registers it with its declared region.", file=out)
        return exits.OK
    return exits.ERROR


def _verify_code(client: GraphClient, number_id: str, code: str, *, requested: bool) -> None:
    """verify_code, with Meta's refusal of the code (error 100: wrong, expired, or none requested)
    turned into what to do next. Graph's own words and reference stay at the end, for support."""
    try:
        client.verify_code(number_id, code)
    except InvalidParameter as exc:
        again = f"python -m provider verify --phone-number-id {number_id}"
        step = ("check the digits of the message that just arrived and run again with --code CODE, or run "
                f"`{again}` without --code to request a new code" if requested else
                f"the code is the digits of the last code Meta sent for this number, and only until a new one is "
                f"requested: run `{again}` without --code to request a code and enter it when asked")
        raise ConfigurationError(f"Meta did not accept the code for {number_id} (wrong, expired, or no code was "
                                 f"requested): {step}. Graph said: {exc.details or exc.graph_message} "
                                 f"({exc.reference})") from exc


def _phone_number_id(value: str) -> str:
    if not is_ascii_digits(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a phone number ID (digits only)")
    return value


def _verification_code(value: str) -> str:
    if not is_ascii_digits(value):
        raise argparse.ArgumentTypeError("the code must be the digits 0-9 of the code Meta sent, nothing else")
    return value


def _verify_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--phone-number-id", required=True, type=_phone_number_id, metavar="ID",
                     help="the Graph API phone number ID to verify (digits; the key of its phoneNumbers entry)")
    cmd.add_argument("--method", choices=("SMS", "VOICE"), default="SMS", type=str.upper,
                     help="how Meta sends the code: a text message or a voice call (default: SMS)")
    cmd.add_argument("--language", default="en_US", metavar="LOCALE",
                     help="the language of the message or call, as a locale such as en_US or pt_BR (default: en_US)")
    cmd.add_argument("--code", type=_verification_code, help="a code already received: verify it without requesting a new one")
    _stack_options(cmd, required=False)


VERIFY_COMMAND = Command(
    "verify", "request a verification code, then verify it",
    ((exits.OK, "the number is verified (already, or now)"),
     (exits.ERROR, "an error, or the number is still not verified"),
     (exits.USAGE, "a usage error")),
    _verify_arguments, _verify,
    description="Reads the number first: a verified number needs nothing. Otherwise request_code then "
                "verify_code (prompts for the code unless --code is given, in which case only verify_code "
                "is sent).")


def _regions(_args: argparse.Namespace, streams: Streams) -> int:
    lines = ["Local Storage regions (ISO 3166-1 alpha-2 codes) by area:"]
    for area, codes in AREAS.items():
        lines.append(f"  {area}")
        lines += [f"    {code}  {REGIONS[code]}" for code in codes]
    lines.append(f"  {DEFAULT}")
    lines.append(f"    {DEFAULT}  Meta's default storage (local storage off); it must be declared, never implied")
    lines.append("UK and EU are not codes: the United Kingdom is GB, Meta's EU region is DE (Germany).")
    streams.out.write("\n".join(lines) + "\n")
    return exits.OK


REGIONS_COMMAND = Command("regions", "the supported regions and their codes", ((exits.OK, "always"),),
                          lambda _cmd: None, _regions)

def _import_arguments(cmd: argparse.ArgumentParser) -> None:
    _stack_options(cmd, required=True)
    cmd.add_argument("--waba-id", required=True, action="append", type=onboard.waba_id, metavar="ID",
                     help="a WhatsApp Business Account ID (repeat for several)")
    cmd.add_argument("--write", action="store_true",
                     help="merge the entries into stacks/Pulumi.NAME.yaml (created when missing)")


def _import(args: argparse.Namespace, streams: Streams) -> int:
    return onboard.run(args.stack, args.project_dir, args.waba_id, write=args.write, fmt=args.format,
                       out=streams.out, err=streams.err)


IMPORT_COMMAND = Command(
    "import", "propose phoneNumbers entries for the numbers of business accounts (GET calls only); "
              "--write merges them into the stack file",
    ((exits.OK, "wrote the entries, or had nothing to add"),
     (exits.ERROR, "an error: token rejected, business account not visible, a number could not be read"),
     (exits.USAGE, "a usage error: bad arguments, a stack file that is not valid YAML")),
    _import_arguments, _import,
    description="Lists every number of each business account (all pages), reads each one's storage, and proposes "
                "entries keyed by phone number ID (region = the live region, name = the verified name, wabaId) so "
                "that the first `pulumi up` adopts them with zero calls. Never writes a PIN; never changes a "
                "declared number.",
    formats=onboard.FORMATS)

COMMANDS: tuple[Command, ...] = (PLAN_COMMAND, DRIFT_COMMAND, REPORT_COMMAND, IMPORT_COMMAND, VERIFY_COMMAND,
                                 REGIONS_COMMAND)
