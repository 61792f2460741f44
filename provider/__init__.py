"""whatsapp-local-storage: declare where WhatsApp Cloud API numbers keep message content at rest.

``from provider import PhoneNumberStorage, PhoneNumberStorageArgs`` gives the Pulumi resource.
Those names are loaded lazily, so the CLI and the pure modules (planner, client) never import
Pulumi.

How a change flows, and the one module that owns each decision::

    resource.py     the Pulumi adapter (the only Pulumi module); its pickled class path never moves
    lifecycle.py    the adapter's decisions (pure): on_delete, the diff without a token, state migration
    inputs.py       the input rules (check, the stack program and the CLI share them; is_pin)
    compliance.py   allowedRegions: parse it, and its verdict (verdict / Violation.message)
    executor.py     read -> plan -> preflight -> run -> read back, for one number
    planner.py      the plan: live state x desired state -> the shortest list of calls (pure)
    safety.py       may the plan start? typed Problems (pure), the create-cutover gate included
    windows.py      change windows (cutoverWindows): parse them, and whether a cutover may start now
    versions.py     Meta's API versions: which one serves the day, and so which flow the plan uses
    clock.py        the one clock (injected by tests)
    runner.py       makes the planned calls and SPEC's recoveries; returns a Run, never raises
    failures.py     a failed run as data: one table picks the facts and renders the message
    fleet.py        what one provider process remembers (locks, slots, breaker, attempts, notices,
                    the stack config, the register calls each number's entries carried)
    client.py       the Graph API over HTTP (retries, pagination, appsecret_proof)
    errors.py       every error, drawn as a tree; Graph answers become typed errors there only
    models.py       typed views of Meta's answers; id_order, how IDs are listed
    exits.py        the CLI's exit codes and its one JSON error document
    cli/, onboard/  python -m provider (plan, drift, report, verify, regions) and its import

Extension points: where a second resource type would plug in (octoDNS documents its
``BaseProvider`` template methods the same way; nothing here is built for one yet):

1. **The adapter.** A new ``pulumi.dynamic.ResourceProvider`` subclass and its
   ``pulumi.dynamic.Resource`` in a module of its own (``resource.py`` is the pattern: ``check``
   validates with pure rules, ``diff``/``create``/``update``/``read``/``delete`` only translate
   between Pulumi's dicts and typed values). Its class path is pickled into state: choose it once.
2. **Its inputs.** A ``validate(raw, is_unknown=...)`` of its own beside ``inputs.validate``,
   returning ``(normalised, [inputs.Failure])``, so that ``check``, the stack program and the CLI
   apply the same rules.
3. **Its plan.** A pure ``plan(live, desired) -> Plan`` (``planner.plan``'s contract: no I/O, the
   shortest list of ``Call`` values, ``in_sync`` when empty) and the ``Step`` values it uses.
4. **Its safety rules.** Functions returning ``safety.Problem`` values with new ``safety.Rule``
   members, called from ``safety.preflight`` (or a ``preflight`` of its own with the same
   signature); ``Problem.render`` spells input names for each reader.
5. **Its calls and recoveries.** A runner that returns ``runner.Run`` data (applied steps,
   timestamps, a ``failures.StepFailure``) and never raises a Graph error; ``Executor.converge``
   is the sequence to reuse (per-number lock, read cache, retry refusal, breaker).
6. **Its failure messages.** Rows in ``failures.CASES`` for its steps: how to recognise the
   failure, what to read afterwards (``failures.Look``), where the object was left, the sentence.
7. **Its Graph calls.** Methods on ``client.GraphClient``; new Meta error codes as classes in
   ``errors.py`` (``codes = (...)``, ``summary``, ``fix``): ``error_from_response`` finds them.
8. **Its CLI view.** A ``cli.commands.Command`` value added to ``COMMANDS``, with exit codes from
   ``exits``.

The process-wide rules (cutover slots, the breaker, attempt records) are per phone number in
``fleet``; a resource type that takes numbers offline must go through them too.
"""

from __future__ import annotations

import importlib
from typing import Any

# The project's version, in one place: `python -m provider --version` and the CLI's JSON say it.
__version__ = "0.3.0"

__all__ = ["PhoneNumberStorage", "PhoneNumberStorageArgs", "PhoneNumberStorageProvider"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        # By name, not `from . import resource`: a type check of a pure module that imports this
        # package (the emulator imports provider.versions) must not pull in the Pulumi adapter.
        resource = importlib.import_module(f"{__name__}.resource")
        return getattr(resource, name)
    raise AttributeError(f"module 'provider' has no attribute {name!r}")
