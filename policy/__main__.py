"""CrossGuard policy pack for whatsapp-local-storage's ``PhoneNumberStorage`` resources.

It owns four rules, each a pure function of one resource's inputs (and, for the first, the
pack's configuration) that returns the violation message or None:

- ``whatsapp-allowed-regions`` (mandatory): the declared region is in the configured
  ``allowedRegions`` list; ``DEFAULT`` (Meta's default storage) only when listed;
- ``whatsapp-no-disable-on-delete`` (advisory by default): ``on_delete`` is not ``disable``;
- ``whatsapp-no-cutover-on-create`` (advisory by default): ``allow_cutover_on_create`` is off;
- ``whatsapp-cutover-windows`` (advisory by default): a number that a change can take offline
  declares change windows (``cutover_windows``, which the stack program fills from the number's
  ``cutoverWindows`` or the stack's ``whatsapp-local-storage:cutoverWindows``). Blackouts
  (``cutover_blackouts``) only say when not, so they do not stand in for windows; malformed ones
  are reported, whatever the number.

The pack is self-contained on purpose: Pulumi runs it from this directory in its own virtualenv
(and ``pulumi policy publish`` ships only this directory), so it cannot import the project's
``provider`` package. The region codes are repeated here; tests/project/test_policy_pack.py pins them to
provider/regions.py through the config schema the engine validates against. The blackout rules are
repeated too (provider/blackouts.py), on the same pinned ``tzdata`` (this directory's
requirements.txt), and the tests run both copies over one table.

A value the engine does not know yet (during preview, an input computed from another resource's
output) makes the rule not applicable instead of failing: ``pulumi up`` analyses the resource
again once the value is known.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional
from zoneinfo import ZoneInfo

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
          "cutover_windows", "cutover_blackouts")
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


BLACKOUT_KEYS = ("from", "to", "zone", "reason")
MAX_BLACKOUTS, MAX_DAYS, MAX_REASON = 64, 90, 120
LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.ASCII)


def pinned_zone(name: str) -> Optional[ZoneInfo]:
    """A region's zone from the pinned tzdata package (never the machine's database), or None for
    anything else: abbreviations, fixed offsets and Factory are not regions (UTC is)."""
    listing = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    region = name in ("UTC", "Etc/UTC") or ("/" in name and not name.startswith("Etc/"))
    if not region or name not in listing:
        return None
    *area, leaf = name.split("/")
    with importlib.resources.files(".".join(["tzdata.zoneinfo", *area])).joinpath(leaf).open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


def _bound(value: Any, tz: Optional[ZoneInfo], second: bool) -> tuple[Optional[datetime], Optional[str]]:
    """A local bound read as the provider does (``to`` at the second of a repeated time), or why not."""
    if not isinstance(value, str) or LOCAL.fullmatch(value.strip()) is None:
        return None, "is not a local date and time such as 2026-11-27T00:00"
    try:
        naive = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        return None, "is not a date and time of the calendar"
    if tz is None:
        return naive, None
    instant = naive.replace(tzinfo=tz, fold=int(second))
    if instant.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        return None, "does not happen: the clocks skip it"
    return naive, None


def blackout_problems(value: Any) -> list[str]:
    """What is wrong with ``cutover_blackouts`` (a list, or its JSON text), item by item."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ["cutover_blackouts: is not a list of blackouts"]
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        return ["cutover_blackouts: is not a list of blackouts"]
    problems = [f"cutover_blackouts: lists {len(value)} blackouts; at most {MAX_BLACKOUTS}"] if len(value) > MAX_BLACKOUTS else []
    for index, item in enumerate(value):
        where = f"cutover_blackouts[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: is not a map of from, to, zone and reason")
            continue
        problems += [f"{where}: unknown key {key!r}" for key in item if key not in BLACKOUT_KEYS]
        zone_name = item.get("zone")
        tz = pinned_zone(zone_name.strip()) if isinstance(zone_name, str) else None
        if tz is None:
            problems.append(f"{where}.zone: {zone_name!r} is not a region's IANA time zone such as Europe/Berlin or UTC")
        bounds = {}
        for key in ("from", "to"):
            bounds[key], why = _bound(item.get(key), tz, second=key == "to")
            if why:
                problems.append(f"{where}.{key}: {why}")
        if bounds["from"] and bounds["to"]:
            if bounds["to"] <= bounds["from"]:
                problems.append(f"{where}.to: must be after from")
            elif tz is not None and (bounds["to"].replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
                                     - bounds["from"].replace(tzinfo=tz).astimezone(timezone.utc)) > timedelta(days=MAX_DAYS):
                problems.append(f"{where}.to: lasts more than {MAX_DAYS} days")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip() or not reason.strip().isprintable() or len(reason.strip()) > MAX_REASON:
            problems.append(f"{where}.reason: must say why, in printable text of at most {MAX_REASON} characters")
    return problems


def cutover_windows_violation(props: Mapping[str, Any], _config: Any) -> Optional[str]:
    """A number is cutover-capable when it declares its PIN: every cutover ends with a register,
    which needs the PIN, so the provider never deregisters a number without one. Such a number
    should say when the business lets it go offline. An empty list counts: it says "never".
    Blackouts say only when not: without windows, every other instant is open."""
    number = number_of(props)
    problems = blackout_problems(props.get("cutover_blackouts"))
    if problems:
        return (f"phone number {number} declares malformed blackouts, which `pulumi up` refuses: "
                f"{'; '.join(problems)}. Fix them in the stack's whatsapp-local-storage:cutoverBlackouts or the "
                "number's cutoverBlackouts.")
    if props.get("pin") is None or props.get("cutover_windows") is not None:
        return None
    blackouts = " (its blackouts only say when not, so every other instant is open)" if props.get(
        "cutover_blackouts") else ""
    return (f"phone number {number} can be taken offline by a region change (it declares its PIN), but declares "
            f"no change windows{blackouts}, so `pulumi up` cuts it over whenever it runs. Set the stack's "
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
