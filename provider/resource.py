"""The Pulumi adapter: ``PhoneNumberStorage`` and its dynamic provider.

The only module of this package that knows Pulumi, and the only one that holds the process's
memory (``fleet.current()``): it hands each piece to the code below it. It translates between
Pulumi's property dicts and typed values (a ``Declaration``, a ``CallLedger``, an assessment
``Context``); what a number needs and whether it may go now is ``assessment``'s answer (through
the executor), and the lifecycle rules it applies (the diff without a token, the state
migration, "gone") live in ``lifecycle``.

``provider.resource.PhoneNumberStorageProvider`` is part of the state format: Pulumi pickles
the provider *by reference* into every resource's state, and destroy/refresh unpickle it
without running the program. Never move or rename it, and never give it instance attributes
(credentials live in module state, set by ``configure`` or read from the environment).

The engine never tells a dynamic provider which resource a call is for (no URN), so "is this a
second resource for the same number?" is decided from what this process saw (``fleet``): the
region each ``check`` declared per number, and the numbers a create or update converged.
Refresh (``read``, ``diff``) declares nothing, so a number's own refresh, a rename's create and
delete, and an engine retry are never mistaken for a second resource; every call does record the
register/deregister calls its entry carries, which a later create for the number counts.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from . import clock, compliance, lifecycle, schedule
from .config import KEYS, ProviderConfig
from .declaration import INPUT_KEYS, OUTPUT_ONLY_KEYS, SECRET_KEYS, Declaration, delete_target
from .errors import (
    AppSecretProofRejected,
    AuthenticationFailed,
    ConfigurationError,
    GraphAPIError,
    NumberNotVisible,
    ObjectNotFound,
    ProviderError,
    TokenRejectedFromState,
    cannot_see,
)
from .fleet import current
from .inputs import declare, has_unknown, validate
from .ledger import CallLedger
from .lifecycle import SCHEMA_VERSION
from .regions import describe

if TYPE_CHECKING:
    from .assessment import Context, DeleteFacts
    from .executor import Executor, Outcome
    from .models import LiveNumber


def _now() -> datetime:
    """The provider's one clock; a test clock's notice is said once per process."""
    current().notices.once(clock.notice())
    return clock.now()


def _config() -> ProviderConfig:
    fleet = current()
    config = ProviderConfig.load(fleet.stack_config)
    fleet.notices.all_once(config.notices)
    return config


def _policy() -> frozenset[str] | None:
    """``whatsapp-local-storage:allowedRegions`` (None: every region allowed). Raises PolicyError."""
    return compliance.allowed_regions_from(current().stack_config)


def _executor() -> "Executor":
    """The executor for this process's configuration, with the process's memory."""
    return current().executor_for(_config())


def _context(number_id: str, carried: CallLedger, *, creating: bool, deleting: "DeleteFacts | None" = None
             ) -> "Context":
    """What a converge of this entry depends on besides its declaration and the live number.

    The register/deregister calls the entry carries are recorded, and every call this process saw
    for the number on any entry (a Read, Diff or Delete of an old resource, a pending delete)
    counts; the executor adds what failed attempts made. Imported here, not at module level: the
    stack program imports this module on every preview and up and never calls the Graph API, so
    it should not pay for requests and pydantic."""
    from .assessment import Context

    now = _now()
    return Context(now=now, ledger=current().calls.saw(number_id, carried),
                   allowed_regions=_policy(), stack_windows=current().stack_config.get(schedule.STACK_KEY),
                   stack_blackouts=current().stack_config.get(schedule.BLACKOUTS_KEY),
                   creating=creating, deleting=deleting)


def _declaration(props: dict[str, Any]) -> Declaration:
    declaration, failures = declare({k: props.get(k) for k in INPUT_KEYS if props.get(k) is not None},
                                    today=_now().date())
    if declaration is None:
        raise ConfigurationError("; ".join(map(str, failures)))
    return declaration


def _live_outputs(live: "LiveNumber") -> dict[str, Any]:
    out: dict[str, Any] = {
        "storage_status": live.storage_status.value,
        "registered": live.registered,
        "display_phone_number": live.node.display_phone_number,
    }
    if live.region is not None:
        out["region"] = live.region
    return out


def _outputs(declaration: Declaration, outcome: "Outcome") -> dict[str, Any]:
    out = declaration.echoes()
    out.update(_live_outputs(outcome.live))
    out["applied_steps"] = outcome.applied_steps
    out["registration_calls"] = outcome.calls.serialise()
    out["schema_version"] = SCHEMA_VERSION
    return out


# Credentials Meta rejected: refresh and destroy may be using the ones saved in state (lifecycle.token_from_state).
_CREDENTIALS_REJECTED = (AuthenticationFailed, AppSecretProofRejected)


def _token_from_state(number_id: str, exc: GraphAPIError) -> ProviderError:
    return TokenRejectedFromState(lifecycle.token_from_state(number_id, str(exc)))


def _is_unknown(value: Any) -> bool:
    """Preview placeholders: the SDK hands them over as ``Unknown`` objects or the UNKNOWN string."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


class PhoneNumberStorageProvider(ResourceProvider):
    """Converges one phone number's Local Storage onto its declared region."""

    def configure(self, req: ConfigureRequest) -> None:
        keys = [*(key for key, _env in KEYS.values()), compliance.ALLOWED_REGIONS_KEY, schedule.STACK_KEY,
                schedule.BLACKOUTS_KEY, lifecycle.NUMBERS_KEY]
        config = {key: value for key in keys if (value := req.config.get(key)) is not None}
        current().configure(config)
        if not config:
            # Pulumi CLIs before 3.139 hand a dynamic provider no stack config at all, and those CLIs
            # predate the check of Pulumi.yaml's requiredPulumiVersion: say which settings apply.
            current().notices.line(
                "whatsapp: notice: the engine passed no stack configuration to this provider, so only "
                "WHATSAPP_* environment variables apply. If the stack file sets whatsapp:* keys, this "
                "Pulumi CLI is older than 3.139 (Pulumi.yaml requires >=3.139): upgrade it.")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        raw = {k: v for k, v in news.items() if k != "__provider" and v is not None and k not in OUTPUT_ONLY_KEYS}
        today = _now().date()
        inputs, found = validate(raw, today=today, is_unknown=_is_unknown)
        failures = [CheckFailure(f.property, f.reason) for f in found]
        region, number_id = inputs.get("region"), inputs.get("phone_number_id")
        if found or _is_unknown(region) or _is_unknown(number_id):
            return CheckResult(inputs, failures)
        try:
            allowed = _policy()
        except compliance.PolicyError as exc:
            return CheckResult(inputs, [CheckFailure("region", f"{compliance.ALLOWED_REGIONS_KEY}: {exc}")])
        if inputs.get("cutover_windows") is None:
            try:
                schedule.of_stack(current().stack_config, today=today)
            except schedule.WindowError as exc:
                return CheckResult(inputs, [CheckFailure("cutover_windows", str(exc))])
        try:  # the stack's blackouts apply to every number, declared in code too
            schedule.blackouts_of_stack(current().stack_config)
        except schedule.WindowError as exc:
            return CheckResult(inputs, [CheckFailure("cutover_blackouts", str(exc))])
        if (violation := compliance.verdict(allowed, region)) is not None:
            return CheckResult(inputs, [CheckFailure("region", violation.message("") + "; declare an allowed region or change the policy")])
        other = current().deployment.declare(str(number_id), str(region))
        if other is not None:
            failures.append(CheckFailure("phone_number_id", (
                f"two resources in this stack declare the same phone number {number_id}, one with region "
                f"{other} and one with {region}: refused before any change (no call was made). Keep exactly "
                "one resource per number (each number has one declared region).")))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        news = {k: v for k, v in news.items() if k != "__provider"}
        old_id, new_id = olds.get("phone_number_id"), news.get("phone_number_id")
        if not _is_unknown(new_id) and old_id is not None and old_id != new_id:
            return DiffResult(changes=True, replaces=["phone_number_id"], delete_before_replace=False)
        if has_unknown(news, _is_unknown):
            return DiffResult(changes=True, replaces=[])
        if news.get("region") is None:
            # stored inputs that an older provider's read left without a region (No Storage)
            news = {**news, "region": lifecycle.declared_region(olds)}
            if news["region"] is None:  # nothing to compare with: `pulumi up` declares it again
                return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        declaration = _declaration(news)
        number_id = declaration.phone_number_id
        context = _context(number_id, CallLedger.from_state(olds.get("registration_calls")), creating=False)
        inputs_changed = lifecycle.inputs_changed(olds, declaration.as_inputs())
        if _config().access_token:
            found = _executor().assess(declaration, context)
            live_differs, violates_policy = not found.in_sync, found.live_violation is not None
        else:
            live_differs = lifecycle.offline_diff(olds, declaration.region)
            violates_policy = compliance.verdict(context.allowed_regions, olds.get("region")) is not None
        # a live region outside the policy is drift even when declared == live
        return DiffResult(changes=bool(inputs_changed or live_differs or violates_policy), replaces=[],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        declaration = _declaration(props)
        number_id = declaration.phone_number_id
        executor = _executor()
        outcome = executor.converge(declaration, _context(number_id, CallLedger(), creating=True))
        current().deployment.mark_converged(number_id)
        current().calls.saw(number_id, outcome.calls)
        if not outcome.applied_steps:
            executor.say(number_id, f"adopted: already {describe(outcome.live.region)} and registered, no call made")
        return CreateResult(number_id, _outputs(declaration, outcome))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        declaration = _declaration(news)
        number_id = declaration.phone_number_id
        carried = CallLedger.from_state(olds.get("registration_calls"))
        outcome = _executor().converge(declaration, _context(number_id, carried, creating=False))
        current().deployment.mark_converged(number_id)
        current().calls.saw(number_id, outcome.calls)
        return UpdateResult(_outputs(declaration, outcome))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        executor = _executor()
        number_id = props.get("phone_number_id") or id_
        current().calls.saw(number_id, CallLedger.from_state(props.get("registration_calls")))
        try:
            # a refresh: the node from the account's listing this process fetched (once per account)
            live = executor.reads.read_one(number_id, waba_id=props.get("waba_id") or None, any_listing=True)
        except ObjectNotFound as exc:
            if _confirmed_gone(executor, number_id, props.get("waba_id"), exc):
                return ReadResult(None, {})
            raise _not_visible(number_id, props.get("waba_id"), exc) from exc
        except _CREDENTIALS_REJECTED as exc:
            raise _token_from_state(number_id, exc) from exc
        outs = {k: v for k, v in props.items() if k != "__provider"}
        outs.pop("region", None)
        outs.update(_live_outputs(live))
        outs["phone_number_id"] = number_id
        outs["registration_calls"] = CallLedger.from_state(props.get("registration_calls")).recent(_now()).serialise()
        inputs, region = lifecycle.refreshed_inputs(props, live.region)
        if region is not None:  # every output of the current schema is present: read migrates state
            outs["declared_region"] = region
            outs["schema_version"] = SCHEMA_VERSION
        return ReadResult(number_id, outs, inputs=inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from .assessment import Context, DeleteFacts, assess

        number_id = props.get("phone_number_id") or id_
        fleet = current()
        target = delete_target(number_id, props)
        consented = False
        if target.on_delete == "disable":  # read at call time, from the command's own environment
            try:
                consented = number_id in lifecycle.disable_consent(os.environ.get(lifecycle.CONSENT_VARIABLE))
            except ValueError as exc:
                raise ConfigurationError(f"whatsapp {number_id}: {exc}") from None
        facts = DeleteFacts(lifecycle.stack_numbers(fleet.stack_config.get(lifecycle.NUMBERS_KEY)),
                            fleet.deployment.wants(number_id), props.get("region"), consented)
        carried = fleet.calls.saw(number_id, CallLedger.from_state(props.get("registration_calls")))
        known = assess(target, None, Context(now=_now(), ledger=carried, deleting=facts))
        if known.delete is not None and not known.delete.disable:
            fleet.notices.line(known.delete.message or "")
            return
        executor = _executor()
        try:
            outcome = executor.converge(target, _context(number_id, carried, creating=False, deleting=facts))
            fleet.calls.saw(number_id, outcome.calls)
        except ObjectNotFound as exc:
            if _confirmed_gone(executor, number_id, props.get("waba_id"), exc):
                return
            raise _not_visible(number_id, props.get("waba_id"), exc) from exc
        except _CREDENTIALS_REJECTED as exc:
            raise _token_from_state(number_id, exc) from exc


def _confirmed_gone(executor: "Executor", number_id: str, waba_id: Optional[str], exc: ObjectNotFound) -> bool:
    """Gone only when the number's business account, visible to this token, no longer lists it."""
    if not waba_id:
        return False
    try:
        listed: list[str] | None = list(executor.client.list_business_numbers(waba_id))
    except ObjectNotFound:
        listed = None
    if not lifecycle.confirmed_gone(number_id, waba_id, listed):
        return False
    executor.say(number_id, f"no longer exists: business account {waba_id} does not list it ({exc.reference})")
    return True


def _not_visible(number_id: str, waba_id: Optional[str], exc: ObjectNotFound) -> ProviderError:
    hint = ("" if waba_id else
            " Set waba_id on the resource so that a deleted number can be told from a token without access.")
    return NumberNotVisible(
        f"{cannot_see(number_id, exc)}. "
        f"Nothing is marked deleted on this evidence: check the token's access to the number.{hint}")


class PhoneNumberStorageArgs:
    """Inputs of a PhoneNumberStorage (docs/reference.md, "Argument reference")."""

    def __init__(
        self,
        phone_number_id: pulumi.Input[str],
        region: pulumi.Input[str],
        pin: Optional[pulumi.Input[str]] = None,
        enforce_pin: Optional[pulumi.Input[bool]] = None,
        allow_cutover_on_create: Optional[pulumi.Input[bool]] = None,
        on_delete: Optional[pulumi.Input[str]] = None,
        waba_id: Optional[pulumi.Input[str]] = None,
        cutover_windows: Optional[pulumi.Input[list[str]]] = None,
        cutover_blackouts: Optional[pulumi.Input[list[dict[str, str]]]] = None,
    ) -> None:
        self.phone_number_id = phone_number_id
        self.region = region
        self.pin = pin
        self.enforce_pin = enforce_pin
        self.allow_cutover_on_create = allow_cutover_on_create
        self.on_delete = on_delete
        self.waba_id = waba_id
        self.cutover_windows = cutover_windows  # e.g. ["Sun 03:00-05:00 Europe/Berlin"]
        # e.g. [{"from": "2026-11-27T00:00", "to": "2026-11-30T00:00", "zone": "America/New_York",
        #        "reason": "Black Friday freeze"}]: no cutover starts inside one; they add to the stack's
        self.cutover_blackouts = cutover_blackouts


class PhoneNumberStorage(pulumi.dynamic.Resource, module="whatsapp", name="PhoneNumberStorage"):
    """Where one WhatsApp Cloud API phone number keeps message content at rest."""

    phone_number_id: pulumi.Output[str]
    region: pulumi.Output[Optional[str]]
    storage_status: pulumi.Output[str]
    registered: pulumi.Output[bool]
    display_phone_number: pulumi.Output[Optional[str]]
    applied_steps: pulumi.Output[list[str]]
    registration_calls: pulumi.Output[list[str]]
    declared_region: pulumi.Output[str]
    pin: pulumi.Output[Optional[str]]
    enforce_pin: pulumi.Output[bool]
    allow_cutover_on_create: pulumi.Output[bool]
    on_delete: pulumi.Output[str]
    waba_id: pulumi.Output[Optional[str]]
    cutover_windows: pulumi.Output[Optional[list[str]]]
    cutover_blackouts: pulumi.Output[Optional[list[dict[str, str]]]]
    schema_version: pulumi.Output[int]

    def __init__(self, resource_name: str, args: PhoneNumberStorageArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # every input by the declaration's schema (secret ones wrapped), every output-only key unknown
        props: dict[str, Any] = {name: getattr(args, name) for name in INPUT_KEYS}
        props.update({name: pulumi.Output.secret(props[name]) for name in SECRET_KEYS if props[name] is not None})
        props.update({key: None for key in OUTPUT_ONLY_KEYS})
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=sorted(SECRET_KEYS)))
        super().__init__(PhoneNumberStorageProvider(), resource_name, props, opts)
