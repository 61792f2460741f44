"""whatsapp-local-storage: declare where WhatsApp Cloud API numbers keep message content at rest.

``from provider import PhoneNumberStorage, PhoneNumberStorageArgs`` gives the Pulumi resource.
Those names are loaded lazily, so the CLI and the pure modules (planner, client) never import
Pulumi.

How a change flows, and the one module that owns each decision: ``MODULES`` below, in that
order. It is code, not prose, so that a test (tests/project/test_structure.py) fails when a
module of this package is missing from it; its ``new_kind`` column says what a second resource
kind (a business profile, say) would do in each module, and README.md ("Adding a resource
kind") shows where such a kind would go, file by file. The process-wide rules (cutover slots,
the breaker, attempt records) are per phone number in ``memory``, one of each per process in
``fleet``; a resource kind that takes numbers offline must go through them too, one that does
not (a profile) never touches them.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

# The project's version, in one place: `python -m provider --version` and the CLI's JSON say it.
__version__ = "0.3.0"

__all__ = ["PhoneNumberStorage", "PhoneNumberStorageArgs", "PhoneNumberStorageProvider"]


class Module(NamedTuple):
    owns: str  # what the module decides or does
    new_kind: str = ""  # what a second resource kind does there ("if ...": only in that case; "": nothing)


# Every module of provider/ (dotted below it), in the order a change flows through them.
MODULES: dict[str, Module] = {
    "resource": Module("the Pulumi adapter (the only Pulumi module); its pickled class path never moves",
                       "its ResourceProvider and Resource classes beside PhoneNumberStorage's, sharing configure"),
    "lifecycle": Module("the adapter's decisions (pure): on_delete, the diff without a token, state migration"),
    "declaration": Module("what a resource declares, as one typed value, and the schema every spelling of its inputs "
                          "derives from (stack keys, secret inputs, echoed outputs, the program's arguments)",
                          "if it has inputs: a frozen declaration of its own with the same field metadata"),
    "inputs": Module("the input rules (check, the stack program and the CLI share them; is_pin); validation "
                     "returns a Declaration"),
    "compliance": Module("allowedRegions: parse it, and its verdict (verdict / Violation.message)"),
    "assessment": Module("one read (read_live) and one assessment (assess) for every caller: the plan, every "
                         "preflight problem (waiting or refused), windows, budget, the on-delete verdict"),
    "reads": Module("the reads assessing needs, with the fewest calls: nodes from business accounts' listings, "
                    "storage per number, and the stop at an account's hourly limit (LiveReader)"),
    "executor": Module("read -> assess -> run -> read back, for one number, with the process memory it is given"),
    "planner": Module("the plan: live state x desired state -> the shortest list of calls (pure)"),
    "safety": Module("may the plan start? typed Problems (pure), the create-cutover gate included; asked by "
                     "assessment only"),
    "ledger": Module("a number's register/deregister calls against Meta's 72-hour budget (CallLedger); the only "
                     "parser and formatter of their timestamps"),
    "schedule": Module("the one door to change windows for everything else: parse, a number's effective "
                       "windows, where an instant stands"),
    "windows": Module("change windows (cutoverWindows): parse them, the open period around an instant (pure)"),
    "blackouts": Module("dated deny periods (cutoverBlackouts) with a reason: parse them (pure)"),
    "gate": Module("may a cutover start now: one answer over windows and blackouts (open, waiting, never)"),
    "zones": Module("time zones from the pinned tzdata, region names only, and how an instant is shown"),
    "versions": Module("Meta's API versions: which one serves the day, and so which flow the plan uses"),
    "clock": Module("the one clock (injected by tests)"),
    "runner": Module("makes the planned calls and the recoveries of docs/contract.md (Failures); returns a Run, never raises"),
    "failures": Module("a failed run as data: a FailureTable per resource kind picks the facts and renders the "
                       "message; a step no row names gets the generic row"),
    "memory": Module("one process's memory as narrow collaborators: read cache, listings, account limits, attempts (locks, calls, refusals), "
                     "cutover gate (slots, breaker), the deployment's declarations, calls seen, dropped fields"),
    "notices": Module("the notice sink: notices are data, printed once by whoever holds the process"),
    "fleet": Module("one provider process's memory held together, reached only by the adapter (current())"),
    "client": Module("the Graph API's endpoints and the one choke point, _send (retries, pagination, "
                     "appsecret_proof)", "one method per Graph endpoint it calls, through the one choke point (_send)"),
    "transport": Module("one HTTP exchange under _send: the session, the watchdog that bounds a call on the clock, "
                        "answers and redirects as typed errors, failed connections mapped type to type"),
    "usage": Module("Meta's usage headers: the app's and each business account's figures, the stated wait"),
    "answers": Module("Meta's error answers -> typed errors, as a table (the only place)",
                      "if Meta answers it with an error that its code alone does not classify: a Rule"),
    "errors": Module("every error, drawn as a tree: types only",
                     "if Meta answers it with a new error code: a class with codes= and text="),
    "wording": Module("what every error says (summaries, fixes, do-not-rerun reasons) and its sentence helpers",
                      "if it adds an error class: that class's Text"),
    "models": Module("typed views of Meta's phone number answers; id_order, how IDs are listed"),
    "config": Module("the provider's configuration: stack config over environment, the token's source"),
    "redact": Module("scrubbing secrets from everything printed or raised"),
    "escape": Module("escaping text for a terminal, a CI log or Markdown"),
    "regions": Module("the Local Storage regions and the one normalisation of a declared region"),
    "exits": Module("the CLI's exit codes, exit_code_for(error), and its one JSON error document"),
    "files": Module("reading a file someone else wrote, safely: regular files only, no links, inside the "
                    "project, size caps, parse errors without content (CLI)"),
    "stackfile": Module("reading a stack's declarations and a state export from the repository's files (CLI)"),
    "progress": Module("progress of a long read on stderr"),
    "distribution": Module("the installed distribution, and any other that installs the same top-level names "
                           "(--version)"),
    "__main__": Module("python -m provider"),
    "cli": Module("the command line: parse, dispatch, one answer per failure"),
    "cli.commands": Module("each command's arguments, exit codes and run",
                           "if it gets a CLI view: a Command in COMMANDS"),
    "cli.report": Module("plan / drift / report as data (no rendering, no exit codes)"),
    "cli.render": Module("what plan and drift say (views, summaries, which numbers have something to say) and "
                         "the text renderer"),
    "cli.markdown": Module("plan and drift as Markdown under 60,000 bytes, most urgent numbers first"),
    "cli.document": Module("plan and drift as one JSON document, every number"),
    "cli.provenance": Module("when the numbers were read, the commits of code and stack file, the API version"),
    "cli.targets": Module("plan --ready-targets: the report's verdicts sorted into ready URNs, waiting, refused"),
    "cli.evidence": Module("the report command's evidence snapshot for auditors"),
    "onboard": Module("python -m provider import: adopting the numbers a team already has"),
    "onboard.proposal": Module("which listed numbers may be adopted as they are (pure)"),
    "onboard.reading": Module("the import's reads: GET calls only, bounded concurrency"),
    "onboard.render": Module("the import's result as YAML or one JSON document"),
    "onboard.stackedit": Module("the stack file: read before any call, merged, written atomically"),
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        # By name, not `from . import resource`: a type check of a pure module that imports this
        # package (the emulator imports provider.versions) must not pull in the Pulumi adapter.
        resource = importlib.import_module(f"{__name__}.resource")
        return getattr(resource, name)
    raise AttributeError(f"module 'provider' has no attribute {name!r}")
