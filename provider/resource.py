"""The Pulumi adapter: ``PhoneNumberStorage`` and its dynamic provider.

The only module of this package that knows Pulumi. It translates between Pulumi's property
dicts and the typed values of the planner and executor; the lifecycle decisions it applies
(on_delete, the diff without a token, the state migration, "gone") live in ``lifecycle``.

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

import sys
from collections import Counter
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

from . import clock, compliance, lifecycle, windows
from .config import KEYS, ProviderConfig
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
from .lifecycle import SCHEMA_VERSION
from .fleet import current
from .inputs import INPUT_KEYS, validate
from .regions import DEFAULT, describe

if TYPE_CHECKING:
    from .executor import Executor, Outcome
    from .safety import Desired
    from .models import LiveNumber

OUTPUT_ONLY_KEYS = ("storage_status", "registered", "display_phone_number", "applied_steps",
                    "registration_calls", "declared_region", "schema_version")


def _config() -> ProviderConfig:
    return ProviderConfig.load(current().stack_config)


def _policy() -> frozenset[str] | None:
    """``whatsapp-local-storage:allowedRegions`` (None: every region allowed). Raises PolicyError."""
    return compliance.allowed_regions_from(current().stack_config)


def _executor() -> "Executor":
    """The executor for this process's configuration. Imported here, not at module level: the stack
    program imports this module on every preview and up and never calls the Graph API, so it should
    not pay for requests and pydantic."""
    from .executor import Executor

    return Executor.for_config(_config())


def _windows(own: Any) -> windows.Windows | None:
    """The number's change windows: its ``cutover_windows`` input, else the stack's
    ``whatsapp-local-storage:cutoverWindows`` (for resources declared in code). Raises WindowError."""
    return windows.effective(own, current().stack_config.get(windows.STACK_KEY), today=clock.now().date())


def _desired(inputs: dict[str, Any]) -> "Desired":
    from .safety import Desired

    return Desired.from_inputs(inputs, windows=_windows(inputs.get("cutover_windows")))


def _normalised(props: dict[str, Any]) -> dict[str, Any]:
    inputs, failures = validate({k: props.get(k) for k in INPUT_KEYS if props.get(k) is not None})
    if failures:
        raise ConfigurationError("; ".join(map(str, failures)))
    return inputs


def _live_outputs(live: "LiveNumber") -> dict[str, Any]:
    out: dict[str, Any] = {
        "storage_status": live.storage_status.value,
        "registered": live.registered,
        "display_phone_number": live.node.display_phone_number,
    }
    if live.region is not None:
        out["region"] = live.region
    return out


def _outputs(inputs: dict[str, Any], outcome: "Outcome") -> dict[str, Any]:
    out = {key: inputs.get(key) for key in INPUT_KEYS}
    out["declared_region"] = out.pop("region")
    out.update(_live_outputs(outcome.live))
    out["applied_steps"] = outcome.applied_steps
    out["registration_calls"] = outcome.registration_calls
    out["schema_version"] = SCHEMA_VERSION
    return out


def _prior_calls(number_id: str, own: Any) -> list[str]:
    """The register/deregister calls a converge must count: the entry's own, and those this
    process saw for the number on any other entry (a Read, Diff or Delete of an old resource, a
    pending delete). Failed attempts' calls are left to the executor, which adds them itself."""
    fleet = current()
    fleet.saw_calls(number_id, own)
    return sorted((fleet.seen_calls(number_id) - Counter(fleet.attempts(number_id).registration_calls)).elements())


# Credentials Meta rejected: refresh and destroy may be using the ones saved in state (lifecycle.token_from_state).
_CREDENTIALS_REJECTED = (AuthenticationFailed, AppSecretProofRejected)


def _token_from_state(number_id: str, exc: GraphAPIError) -> ProviderError:
    return TokenRejectedFromState(lifecycle.token_from_state(number_id, str(exc)))


def _is_unknown(value: Any) -> bool:
    """Preview placeholders: the SDK hands them over as ``Unknown`` objects or the UNKNOWN string."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def _has_unknown(value: Any) -> bool:
    if _is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


class PhoneNumberStorageProvider(ResourceProvider):
    """Converges one phone number's Local Storage onto its declared region."""

    def configure(self, req: ConfigureRequest) -> None:
        keys = [*(key for key, _env in KEYS.values()), compliance.ALLOWED_REGIONS_KEY, windows.STACK_KEY,
                lifecycle.NUMBERS_KEY]
        config = {key: value for key in keys if (value := req.config.get(key)) is not None}
        current().configure(config)
        if not config:
            # Pulumi CLIs before 3.139 hand a dynamic provider no stack config at all, and those CLIs
            # predate the check of Pulumi.yaml's requiredPulumiVersion: say which settings apply.
            print("whatsapp: notice: the engine passed no stack configuration to this provider, so only "
                  "WHATSAPP_* environment variables apply. If the stack file sets whatsapp:* keys, this "
                  "Pulumi CLI is older than 3.139 (Pulumi.yaml requires >=3.139): upgrade it.",
                  file=sys.stderr, flush=True)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        raw = {k: v for k, v in news.items() if k != "__provider" and v is not None and k not in OUTPUT_ONLY_KEYS}
        inputs, found = validate(raw, is_unknown=_is_unknown)
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
                _windows(None)
            except windows.WindowError as exc:
                return CheckResult(inputs, [CheckFailure("cutover_windows", str(exc))])
        if (violation := compliance.verdict(allowed, region)) is not None:
            return CheckResult(inputs, [CheckFailure("region", violation.message("") + "; declare an allowed region or change the policy")])
        other = current().declare(str(number_id), str(region))
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
        if _has_unknown(news):
            return DiffResult(changes=True, replaces=[])
        if news.get("region") is None:
            # stored inputs that an older provider's read left without a region (No Storage)
            news = {**news, "region": lifecycle.declared_region(olds)}
            if news["region"] is None:  # nothing to compare with: `pulumi up` declares it again
                return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        inputs = _normalised(news)
        current().saw_calls(inputs["phone_number_id"], olds.get("registration_calls"))
        echoes_differ = lifecycle.echoes_differ(olds, inputs)
        stale = lifecycle.is_stale(olds)
        if _config().access_token:
            executor = _executor()
            live = executor.read(inputs["phone_number_id"])
            live_differs = not executor.plan_for(inputs["phone_number_id"], live, _desired(inputs)).in_sync
            live_region = live.region
        else:
            live_differs = lifecycle.offline_diff(olds, inputs["region"])
            live_region = olds.get("region")
        violates_policy = compliance.verdict(_policy(), live_region) is not None  # drift even when declared == live
        return DiffResult(changes=bool(echoes_differ or stale or live_differs or violates_policy), replaces=[],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = _normalised(props)
        number_id = inputs["phone_number_id"]
        executor = _executor()
        outcome = executor.converge(number_id, _desired(inputs), creating=True, prior_calls=_prior_calls(number_id, ()),
                                    allow_cutover=bool(inputs.get("allow_cutover_on_create")),
                                    allowed_regions=_policy())
        current().mark_converged(number_id)
        current().saw_calls(number_id, outcome.registration_calls)
        if not outcome.applied_steps:
            executor.say(number_id, f"adopted: already {describe(outcome.live.region)} and registered, no call made")
        return CreateResult(number_id, _outputs(inputs, outcome))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = _normalised(news)
        number_id = inputs["phone_number_id"]
        outcome = _executor().converge(number_id, _desired(inputs),
                                       prior_calls=_prior_calls(number_id, olds.get("registration_calls")),
                                       allowed_regions=_policy())
        current().mark_converged(number_id)
        current().saw_calls(number_id, outcome.registration_calls)
        return UpdateResult(_outputs(inputs, outcome))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        executor = _executor()
        number_id = props.get("phone_number_id") or id_
        current().saw_calls(number_id, props.get("registration_calls"))
        try:
            live = executor.read(number_id)
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
        from .safety import format_time, recent_calls, utcnow

        outs["registration_calls"] = [format_time(t) for t in recent_calls(props.get("registration_calls"), utcnow())]
        inputs, region = lifecycle.refreshed_inputs(props, live.region)
        if region is not None:  # every output of the current schema is present: read migrates state
            outs["declared_region"] = region
            outs["schema_version"] = SCHEMA_VERSION
        return ReadResult(number_id, outs, inputs=inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        number_id = props.get("phone_number_id") or id_
        fleet = current()
        fleet.saw_calls(number_id, props.get("registration_calls"))
        verdict = lifecycle.on_delete(number_id, props.get("on_delete"),
                                      lifecycle.stack_numbers(fleet.stack_config.get(lifecycle.NUMBERS_KEY)),
                                      fleet.wanted_by_deployment(number_id), describe(props.get("region")))
        if not verdict.disable:
            print(verdict.message, file=sys.stderr, flush=True)
            return
        executor = _executor()
        desired = _desired({"region": DEFAULT, "pin": props.get("pin"), "enforce_pin": props.get("enforce_pin"),
                            "cutover_windows": props.get("cutover_windows")})
        try:
            outcome = executor.converge(number_id, desired,
                                        prior_calls=_prior_calls(number_id, props.get("registration_calls")),
                                        allowed_regions=_policy())
            fleet.saw_calls(number_id, outcome.registration_calls)
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
    """Inputs of a PhoneNumberStorage (SPEC.md, "Inputs")."""

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
    ) -> None:
        self.phone_number_id = phone_number_id
        self.region = region
        self.pin = pin
        self.enforce_pin = enforce_pin
        self.allow_cutover_on_create = allow_cutover_on_create
        self.on_delete = on_delete
        self.waba_id = waba_id
        self.cutover_windows = cutover_windows  # e.g. ["Sun 03:00-05:00 Europe/Berlin"]; SPEC "Change windows"


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
    schema_version: pulumi.Output[int]

    def __init__(self, resource_name: str, args: PhoneNumberStorageArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props: dict[str, Any] = {
            "phone_number_id": args.phone_number_id,
            "region": args.region,
            "pin": pulumi.Output.secret(args.pin) if args.pin is not None else None,
            "enforce_pin": args.enforce_pin,
            "allow_cutover_on_create": args.allow_cutover_on_create,
            "on_delete": args.on_delete,
            "waba_id": args.waba_id,
            "cutover_windows": args.cutover_windows,
            **{key: None for key in OUTPUT_ONLY_KEYS},
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["pin"]))
        super().__init__(PhoneNumberStorageProvider(), resource_name, props, opts)
