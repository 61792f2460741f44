"""CrossGuard policy pack for whatsapp-local-storage's ``PhoneNumberStorage`` resources.

It owns four rules, each a pure function of one resource's inputs (and, for the first, the
pack's configuration) that returns the violation message or None:

- ``whatsapp-allowed-regions`` (mandatory): the declared region is in the configured
  ``allowedRegions`` list; ``DEFAULT`` (Meta's default storage) only when listed;
- ``whatsapp-no-disable-on-delete`` (advisory by default): ``on_delete`` is not ``disable``;
- ``whatsapp-no-cutover-on-create`` (advisory by default): ``allow_cutover_on_create`` is off;
- ``whatsapp-cutover-windows`` (advisory by default): a number that a change can take offline
  declares change windows (``cutover_windows``, which the stack program fills from the number's
  ``cutoverWindows`` or the stack's ``whatsapp-local-storage:cutoverWindows``).

The pack is self-contained on purpose: Pulumi runs it from this directory in its own virtualenv
(and ``pulumi policy publish`` ships only this directory), so it cannot import the project's
``provider`` package. The region codes are repeated here; tests/project/test_policy_pack.py pins them to
provider/regions.py through the config schema the engine validates against.

A value the engine does not know yet (during preview, an input computed from another resource's
output) makes the rule not applicable instead of failing: ``pulumi up`` analyses the resource
again once the value is known.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

RESOURCE_TYPE = "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
# The resource's inputs, as the provider's one schema names them (provider/declaration.py, the
# fields of ``Declaration``), and the secret ones. Repeated because this pack cannot import the
# provider; tests/project/test_policy_pack.py proves them equal, and that every input a rule
# below reads is one of them.
INPUTS = ("phone_number_id", "region", "pin", "enforce_pin", "allow_cutover_on_create", "on_delete", "waba_id",
          "cutover_windows")
SECRET_INPUTS = ("pin",)
DEFAULT = "DEFAULT"
REGIONS = {
    "IN": "India", "SG": "Singapore", "ID": "Indonesia", "KR": "South Korea", "JP": "Japan",
    "AU": "Australia", "BR": "Brazil", "ZA": "South Africa", "BH": "Bahrain",
    "AE": "United Arab Emirates", "DE": "EU (Germany)", "GB": "United Kingdom", "CH": "Switzerland",
    "CA": "Canada",
}
CONFIG_FIX = ('set it in the policy pack config file given to --policy-pack-config, e.g. '
              '{"whatsapp-allowed-regions": {"allowedRegions": ["BR", "DE"]}}')


def describe(region: str) -> str:
    if region == DEFAULT:
        return "DEFAULT (Meta's default storage: local storage off)"
    return f"{region} ({REGIONS.get(region, 'not a Meta region')})"


def number_of(props: Mapping[str, Any]) -> str:
    """The phone number ID for a message; during preview it may not be known yet."""
    try:
        return str(props.get("phone_number_id") or "(no phone_number_id)")
    except UnknownValueError:
        return "(phone_number_id not known yet)"


def region_violation(props: Mapping[str, Any], config: Optional[Mapping[str, Any]]) -> Optional[str]:
    allowed = (config or {}).get("allowedRegions")
    if not isinstance(allowed, (list, tuple)) or not all(isinstance(code, str) for code in allowed):
        # The engine validates the config against the schema first; another host may not. A
        # compliance rule without its list must fail closed, never allow everything.
        return f"allowedRegions is not configured as a list of region codes: {CONFIG_FIX}"
    allowed_codes = {code.strip().upper() for code in allowed}
    number = number_of(props)
    region = props.get("region")
    if not isinstance(region, str) or not region.strip():
        return f"phone number {number} declares no region, so where its data rests cannot be checked"
    region = region.strip().upper()
    if region in allowed_codes:
        return None
    listed = ", ".join(sorted(allowed_codes)) or "nothing"
    if region == DEFAULT:
        return (f"phone number {number} declares DEFAULT (Meta's default storage: local storage off), "
                f"which allowedRegions does not list (it allows {listed}). Declare one of those regions, "
                "or add DEFAULT to allowedRegions if data may rest outside a local storage region.")
    return (f"phone number {number} keeps its message content at rest in {describe(region)}, outside "
            f"allowedRegions (it allows {listed}). Declare one of those regions, or have the "
            f"policy's owners add {region} to allowedRegions.")


def spelled(value: Any) -> Any:
    """Text as the provider's check reads it (case and spaces ignored); anything else unchanged."""
    return value.strip().lower() if isinstance(value, str) else value


def disable_on_delete_violation(props: Mapping[str, Any], _config: Any) -> Optional[str]:
    if spelled(props.get("on_delete")) != "disable":
        return None
    number = number_of(props)
    return (f"phone number {number} has on_delete 'disable': pulumi destroy, or removing this resource "
            "(a rename without an alias, a move to another stack), deregisters the number, taking it "
            "offline, and moves its storage to Meta's default. Use on_delete 'retain' (the default) "
            "unless the number is meant to be switched off.")


def cutover_on_create_violation(props: Mapping[str, Any], _config: Any) -> Optional[str]:
    if spelled(props.get("allow_cutover_on_create")) not in (True, "true"):
        return None
    number = number_of(props)
    return (f"phone number {number} sets allow_cutover_on_create: if the live number keeps its data "
            "elsewhere, creating this resource deregisters it (offline) and moves its storage, while "
            "pulumi preview shows only a plain create. Declare the number's current region first, then "
            "change it in a separate, reviewed update.")


def cutover_windows_violation(props: Mapping[str, Any], _config: Any) -> Optional[str]:
    """A number is cutover-capable when it declares its PIN: every cutover ends with a register,
    which needs the PIN, so the provider never deregisters a number without one. Such a number
    should say when the business lets it go offline. An empty list counts: it says "never"."""
    if props.get("pin") is None or props.get("cutover_windows") is not None:
        return None
    number = number_of(props)
    return (f"phone number {number} can be taken offline by a region change (it declares its PIN), but declares "
            "no change windows, so `pulumi up` cuts it over whenever it runs. Set the stack's "
            "whatsapp-local-storage:cutoverWindows (e.g. [\"Sun 03:00-05:00 Europe/Berlin\"]) or the number's "
            "cutoverWindows to the windows your change board approved.")


Rule = Callable[[Mapping[str, Any], Optional[Mapping[str, Any]]], Optional[str]]


def validate_with(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A resource validation that applies ``rule`` to PhoneNumberStorage resources only."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != RESOURCE_TYPE:
            return
        try:
            message = rule(args.props, args.get_config())
        except UnknownValueError as unknown:
            args.not_applicable(f"{unknown.message}; pulumi up checks it once the value is known")
            return
        if message:
            report_violation(message, None)

    return validate


allowed_regions = ResourceValidationPolicy(
    name="whatsapp-allowed-regions",
    description="WhatsApp phone numbers keep message content at rest only in the allowed regions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"allowedRegions": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": [*REGIONS, DEFAULT]},
            "description": ("Region codes where numbers may keep data at rest, upper-case ISO codes "
                            "(GB for the United Kingdom, DE for Meta's EU region). DEFAULT, Meta's "
                            "default storage with local storage off, is allowed only when listed."),
        }},
        required=["allowedRegions"],
    ),
    validate=validate_with(region_violation),
)

no_disable_on_delete = ResourceValidationPolicy(
    name="whatsapp-no-disable-on-delete",
    description="Deleting a PhoneNumberStorage leaves the live number as it is (on_delete: retain).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_with(disable_on_delete_violation),
)

no_cutover_on_create = ResourceValidationPolicy(
    name="whatsapp-no-cutover-on-create",
    description="Creating a PhoneNumberStorage never cuts a live number over (allow_cutover_on_create off).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_with(cutover_on_create_violation),
)

cutover_windows = ResourceValidationPolicy(
    name="whatsapp-cutover-windows",
    description="A number that a change can take offline declares change windows (cutoverWindows).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_with(cutover_windows_violation),
)

PolicyPack(
    name="whatsapp-local-storage-compliance",
    policies=[allowed_regions, no_disable_on_delete, no_cutover_on_create, cutover_windows],
)
