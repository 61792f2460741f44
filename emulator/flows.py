"""The rules of the calls that change a phone number: set PIN, settings (local storage),
register and deregister (with the 72-hour budget and the PIN lockout), and code verification.

Every version is served as v21.0 or later (a retired one as the oldest live version, see
provider/versions.py), so there is one flow: storage through `/settings` on a number that is not
registered. Register refuses `data_localization_region` with code 12, as Meta's spec and live API
do on v21.0+, unless the emulator was started to follow the HTML guide instead.

Each handler takes `(state, request, record)`, is called under `State.lock`, changes the
`NumberRecord` in place and returns `(200, body)` or raises `GraphError`.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import secrets
import string
from typing import TYPE_CHECKING, Any

from provider import versions

from .errors import GraphError, bad_param
from .record import NumberRecord
from .seed import REGIONS

if TYPE_CHECKING:
    from .request import ApiRequest
    from .state import State

Answer = tuple[int, dict[str, Any]]

BUDGET_WINDOW = 72 * 3600
BUDGET_LIMIT = 10
BLOCK_SECONDS = 72 * 3600
PIN_GUESSES = 5
PIN_LOCKOUT_SECONDS = 3600
DEFAULT = {"status": "DEFAULT"}
RETENTION_MINUTES = (60,)  # No Storage: Meta, "currently, only the 60 value is allowed"


def refuse_if_locked(rec: NumberRecord) -> None:
    """131031: Meta locked the business account (for example after a wrong two-step PIN)."""
    if rec.account_locked:
        raise GraphError(131031, "Account has been locked",
                         details="The business account is locked; see WhatsApp Manager. "
                                 "Retrying does not unlock it.")


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait_text(seconds: float) -> str:
    minutes = max(1, int((seconds + 59) // 60))
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{(minutes + 59) // 60} hours"


# -- PIN ------------------------------------------------------------------------------------

def _pin_value(value: object, name: str = "pin") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise bad_param(f"The parameter {name} is required.")
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{6}", value):
        raise bad_param(f"Param {name} must be a 6-digit string.",
                        "The two-step verification PIN must be exactly 6 digits.")
    return value


def set_pin(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    params = req.params
    params.pop("messaging_product", None)
    extra = sorted(set(params) - {"pin"})
    if extra:
        raise bad_param(f"Unsupported parameter(s) for this node: {', '.join(extra)}")
    pin = _pin_value(params.get("pin"))
    refuse_if_locked(rec)
    rec.pin = pin
    rec.failed_pin_attempts = 0
    return 200, {"success": True}


def _pin_locked(rec: NumberRecord, now: float) -> None:
    until = rec.pin_locked_until
    if until is None:
        return
    if now < until:
        raise GraphError(133008, "Too many two step verification PIN guesses for this phone number",
                         details=f"Too many incorrect PIN guesses. Wait {_wait_text(until - now)} "
                                 f"(until {_iso(until)}) before trying again.")
    rec.pin_locked_until = None
    rec.failed_pin_attempts = 0


# -- settings -------------------------------------------------------------------------------

def _region(value: object, name: str = "data_localization_region") -> str:
    if not isinstance(value, str) or value.strip().upper() not in REGIONS:
        raise bad_param(
            f"Param {name} must be one of {', '.join(REGIONS)}",
            f"Invalid {name} {value!r}; supported regions: {', '.join(REGIONS)}.")
    return value.strip().upper()


def _maybe_json(value: object) -> object:
    """Form-encoded bodies carry nested objects as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def get_settings(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    settings = copy.deepcopy(rec.settings)
    storage = settings.get("storage_configuration")
    if state.options.lowercase_statuses and isinstance(storage, dict):
        # Meta's Settings reference and OpenAPI show `in_country_storage_enabled` and `us`.
        for key in ("status", "data_localization_region"):
            if isinstance(storage.get(key), str):
                storage[key] = storage[key].lower()
    return 200, settings


def _enabled_form(value: dict[str, Any]) -> dict[str, Any]:
    """Meta's second body form (Settings reference, OpenAPI `StorageConfigurationSettings`):
    `{"enabled": true, "region": "BR"}` or `{"enabled": false}`."""
    if set(value) - {"enabled", "region"}:
        raise bad_param("Param storage_configuration takes either status (with data_localization_region) "
                        "or enabled (with region), not both.")
    enabled = value["enabled"]
    if not isinstance(enabled, bool):
        raise bad_param("Param storage_configuration.enabled must be true or false.")
    if not enabled:
        return dict(DEFAULT)
    if value.get("region") in (None, ""):
        raise bad_param("Param storage_configuration.region is required when enabled is true.")
    return _in_country(_region(value["region"], "storage_configuration.region"))


def _storage_config(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_param("Param storage_configuration must be an object.")
    if "enabled" in value:
        return _enabled_form(value)
    status = value.get("status")
    if not isinstance(status, str) or not status.strip():
        raise bad_param("Param storage_configuration.status is required (or enabled, with region).")
    status = status.strip().upper()
    if status == "IN_COUNTRY_STORAGE_ENABLED":
        if value.get("data_localization_region") in (None, ""):
            raise bad_param("Param storage_configuration.data_localization_region is required "
                            "when status is IN_COUNTRY_STORAGE_ENABLED.")
        return _in_country(_region(value["data_localization_region"]))
    if status in ("IN_COUNTRY_STORAGE_DISABLED", "DEFAULT"):
        return dict(DEFAULT)
    if status == "NO_STORAGE_ENABLED":
        minutes = value.get("retention_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes not in RETENTION_MINUTES:
            raise bad_param("Param storage_configuration.retention_minutes must be 60 "
                            "(currently the only value allowed).")
        return {"status": status, "retention_minutes": minutes}
    raise bad_param(f"Param storage_configuration.status has an invalid value '{value.get('status')}'; "
                    "use IN_COUNTRY_STORAGE_ENABLED or IN_COUNTRY_STORAGE_DISABLED.")


def post_settings(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    updates: dict[str, dict[str, Any]] = {}
    for key, value in req.params.items():
        value = _maybe_json(value)
        if not isinstance(value, dict):
            raise bad_param(f"Param {key} must be an object.")
        updates[key] = value
    if not updates:
        raise bad_param("No settings were given; send e.g. storage_configuration.")
    refuse_if_locked(rec)
    if "storage_configuration" in updates:
        updates["storage_configuration"] = _storage_config(updates["storage_configuration"])
        if rec.registered:
            raise bad_param("Local storage can only be enabled or disabled on unregistered phone numbers",
                            "Deregister the phone number before changing its local storage.")
    for key, value in updates.items():
        if key == "storage_configuration":
            rec.settings[key] = value
        else:
            current = rec.settings.get(key)
            merged = dict(current) if isinstance(current, dict) else {}
            merged.update(value)
            rec.settings[key] = merged
    return 200, {"success": True}


# -- register / deregister ------------------------------------------------------------------

def _spend_budget(rec: NumberRecord, now: float) -> None:
    """Count one register/deregister call in the moving window, or refuse it with 133016."""
    blocked = rec.blocked_until
    if blocked is not None and now < blocked:
        raise GraphError(133016, "Account register deregister rate limit exceeded",
                         details="Registration or deregistration attempts for this phone number "
                                 f"exceeded the limit; it is blocked until {_iso(blocked)} "
                                 f"(try again in {_wait_text(blocked - now)}).")
    if blocked is not None:
        rec.blocked_until = None
    window = [t for t in rec.registration_calls if t > now - BUDGET_WINDOW]
    if len(window) >= BUDGET_LIMIT:
        rec.registration_calls = window
        rec.blocked_until = now + BLOCK_SECONDS
        raise GraphError(133016, "Account register deregister rate limit exceeded",
                         details=f"More than {BUDGET_LIMIT} register/deregister calls in 72 hours; "
                                 f"this phone number is blocked until {_iso(now + BLOCK_SECONDS)}.")
    window.append(now)
    rec.registration_calls = window


def _deprecated_region() -> GraphError:
    """Meta's answer on v21.0+ (its OpenAPI spec: "deprecated in v21+"; a live v25.0 call got it)."""
    return GraphError(12, "Deprecated for versions v21.0 or higher")


def register(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    now = state.now()
    params = req.params
    wants_region = params.get("data_localization_region") not in (None, "")
    if wants_region and versions.settings_flow(req.served) and not state.options.register_accepts_region:
        # Refused before anything else, like any deprecated parameter: changes nothing and spends
        # none of the 72-hour budget (choice: Meta does not say whether it counts).
        raise _deprecated_region()
    refuse_if_locked(rec)  # a locked account refuses the call and changes nothing, the budget included
    _spend_budget(rec, now)
    product = params.get("messaging_product")
    if product in (None, ""):
        raise bad_param("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise bad_param("Param messaging_product must be 'whatsapp'.")
    pin = _pin_value(params.get("pin"))
    region = None
    if wants_region:
        # --register-accepts-region: as the HTML registration guide describes ("only if enabling
        # local storage").
        region = _region(params["data_localization_region"])
        if rec.is_on_biz_app:
            raise bad_param("Local storage is not supported for phone numbers shared with the "
                            "WhatsApp Business app.")
        if rec.registered and rec.storage != _in_country(region):
            raise bad_param("Local storage can only be enabled or disabled on unregistered phone numbers",
                            "Deregister the phone number before registering it with another "
                            "data_localization_region.")
    if rec.code_verification_status != "VERIFIED":
        raise GraphError(133006, "Phone number needs to be verified before registering",
                         details="Verify the phone number with request_code and verify_code first.")
    _pin_locked(rec, now)
    if rec.pin is None:
        rec.pin = pin
    elif pin != rec.pin:
        rec.failed_pin_attempts += 1
        if rec.failed_pin_attempts >= PIN_GUESSES:
            rec.pin_locked_until = now + PIN_LOCKOUT_SECONDS
            _pin_locked(rec, now)
        raise GraphError(133005, "Two step verification PIN Mismatch",
                         details="Two-step verification PIN incorrect.")
    rec.failed_pin_attempts = 0
    rec.platform_type = "CLOUD_API"
    rec.status = "CONNECTED"
    if region is not None:
        rec.settings["storage_configuration"] = _in_country(region)
    return 200, {"success": True}


def _in_country(region: str) -> dict[str, Any]:
    return {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region}


def deregister(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    refuse_if_locked(rec)  # a locked account refuses the call and changes nothing, the budget included
    _spend_budget(rec, state.now())
    if not rec.registered:
        raise GraphError(133010, "Phone number Not Registered",
                         details="The phone number is not registered with Cloud API.")
    if rec.is_on_biz_app:
        raise bad_param("Phone numbers shared with the WhatsApp Business app cannot be deregistered "
                        "through the API.")
    rec.platform_type = "NOT_APPLICABLE"
    rec.status = "DISCONNECTED"
    if not state.options.deregister_keeps_storage and rec.storage.get("status") != "NO_STORAGE_ENABLED":
        rec.settings["storage_configuration"] = dict(DEFAULT)
    return 200, {"success": True}


# -- verification ---------------------------------------------------------------------------

def request_code(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    params = req.params
    method = params.get("code_method")
    if not isinstance(method, str) or method.upper() not in ("SMS", "VOICE"):
        raise bad_param("Param code_method must be one of SMS, VOICE.")
    if not isinstance(params.get("language"), str) or not params["language"].strip():
        raise bad_param("The parameter language is required.")
    if rec.code_verification_status == "VERIFIED":
        raise GraphError(136024, "Verification code request failed",
                         details="The phone number is already verified.")
    rec.verification_code = "".join(secrets.choice(string.digits) for _ in range(6))
    return 200, {"success": True}


def verify_code(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    code = req.params.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code:
        raise bad_param("The parameter code is required.")
    if rec.verification_code is None:
        raise bad_param("No verification code was requested for this phone number.",
                        "Call request_code first.")
    if code != rec.verification_code:
        raise bad_param("The verification code is incorrect.",
                        "The verification code does not match the last code sent.")
    rec.code_verification_status = "VERIFIED"
    rec.verification_code = None
    return 200, {"success": True}
