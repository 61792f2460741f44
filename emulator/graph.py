"""The emulated WhatsApp Cloud API: routing of versioned Graph paths and the rules of each call.

Owns the behaviour GRAPH_API.md describes (number states, storage settings, register flows by
version, PIN, verification, the 72-hour register budget, WABA listing) and the Graph error
envelope. It knows nothing about HTTP sockets: `handle()` takes an `ApiRequest` and returns
`(http_status, body)`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import json
import re
import secrets
import string
import urllib.parse
from dataclasses import dataclass, field

from .seed import REGIONS
from .state import State

BUDGET_WINDOW = 72 * 3600
BUDGET_LIMIT = 10
BLOCK_SECONDS = 72 * 3600
PIN_GUESSES = 5
PIN_LOCKOUT_SECONDS = 3600
DEFAULT_PAGE_SIZE = 2
DEFAULT_VERSION = "v25.0"

NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "code_verification_status",
                 "status", "platform_type", "is_on_biz_app", "is_pin_enabled")
NUMBER_DEFAULT_FIELDS = ("id", "display_phone_number", "verified_name")
EDGES = ("settings", "register", "deregister", "request_code", "verify_code", "phone_numbers")
_VERSION_RE = re.compile(r"^v(\d{1,3})\.(\d{1,2})$")
# Graph-wide parameters that any call may carry; they are never part of an endpoint's payload.
_TRANSPORT_PARAMS = ("access_token", "appsecret_proof", "appsecret_time", "pretty", "format",
                     "suppress_http_code", "debug", "method")


def http_status_for(code: int) -> int:
    """The HTTP status Meta uses for a Graph error code (GRAPH_API.md, "Errors")."""
    if code in (0, 190):
        return 401
    if code == 10 or 200 <= code <= 299 or code in (131005, 368):
        return 403
    if code == 2 or code == 133004:
        return 503
    if code in (131000, 131016, 131057, 133000):
        return 500
    return 400


def fbtrace_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "A" + "".join(secrets.choice(alphabet) for _ in range(22))


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, subcode: int | None = None,
                 details: str | None = None, status: int | None = None,
                 error_type: str | None = None, error_data=None, prefix: bool = True,
                 headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = f"(#{code}) {message}" if prefix and not message.startswith("(#") else message
        self.subcode = subcode
        self.status = status or http_status_for(code)
        self.error_type = error_type or ("GraphMethodException" if (code, subcode) == (100, 33)
                                         else "OAuthException")
        if error_data is None and details is not None:
            error_data = {"messaging_product": "whatsapp", "details": details}
        self.error_data = error_data
        self.headers = headers or {}

    def envelope(self) -> dict:
        err = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.error_data is not None:
            err["error_data"] = self.error_data
        err["fbtrace_id"] = fbtrace_id()
        return {"error": err}


def no_such_object(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation",
        subcode=33, prefix=False)


def bad_param(message: str, details: str | None = None) -> GraphError:
    return GraphError(100, message, details=details or message)


@dataclass
class ApiRequest:
    method: str
    path: str                      # without the version prefix, e.g. "/106540352242922/register"
    version: str | None            # "v21.0", or None for an unversioned path
    query: dict = field(default_factory=dict)
    body: object = None            # parsed JSON/form body, or None
    token: str | None = None
    base_url: str = "http://127.0.0.1"

    @property
    def params(self) -> dict:
        """Query parameters overlaid with body parameters (curl -d sends either form or JSON)."""
        merged = dict(self.query)
        if isinstance(self.body, dict):
            merged.update(self.body)
        for name in _TRANSPORT_PARAMS:
            merged.pop(name, None)
        return merged

    @property
    def old_flow(self) -> bool:
        major, minor = parse_version(self.version or DEFAULT_VERSION)
        return (major, minor) <= (20, 0)


def parse_version(text: str) -> tuple[int, int]:
    m = _VERSION_RE.match(text)
    if not m:
        raise bad_param(f"Unknown API version '{text}'; use a path like /v25.0/...")
    return int(m.group(1)), int(m.group(2))


def split_version(path: str) -> tuple[str | None, str]:
    """Split "/v21.0/123/register" into ("v21.0", "/123/register").

    A first segment that is all digits is an unversioned call; one that starts with "v" and is
    not a valid version is an error (raised by `check_version`).
    """
    parts = path.split("/", 2)
    first = parts[1] if len(parts) > 1 else ""
    if first[:1] in ("v", "V") and not first.isdigit():
        rest = "/" + parts[2] if len(parts) > 2 else "/"
        return first, rest
    return None, path or "/"


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait_text(seconds: float) -> str:
    minutes = max(1, int((seconds + 59) // 60))
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{(minutes + 59) // 60} hours"


# -- dispatch -------------------------------------------------------------------------------

def handle(state: State, req: ApiRequest) -> tuple[int, dict]:
    if req.version is not None:
        parse_version(req.version)
    if req.token is None:
        raise GraphError(190, "An access token is required to request this resource.",
                         error_type="OAuthException")
    if req.token not in state.tokens:
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
    segments = [s for s in req.path.split("/") if s]
    if not segments or len(segments) > 2 or (len(segments) == 2 and segments[1] not in EDGES):
        raise GraphError(100, f"Unknown path components: {req.path}", status=404)
    if req.body == _INVALID_BODY:
        raise bad_param("The request body could not be parsed as JSON or form data.")
    object_id = segments[0]
    edge = segments[1] if len(segments) == 2 else None
    with state.lock:
        rec = state.numbers.get(object_id)
        if rec is not None:
            try:
                return _number_call(state, req, rec, edge)
            finally:
                if req.method == "POST":
                    state.save()
        if object_id in state.wabas:
            return _waba_call(state, req, object_id, edge)
    raise no_such_object(req.method, object_id)


_INVALID_BODY = object()
INVALID_BODY = _INVALID_BODY


def _nonexisting_field(name: str, node_type: str) -> GraphError:
    return bad_param(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def _unsupported_method(req: ApiRequest, edge: str | None) -> GraphError:
    where = f"/{edge}" if edge else "this node"
    return bad_param(f"Unsupported {req.method.lower()} request on {where}")


def _number_call(state: State, req: ApiRequest, rec: dict, edge: str | None):
    handlers = {
        (None, "GET"): _get_number,
        (None, "POST"): _set_pin,
        ("settings", "GET"): _get_settings,
        ("settings", "POST"): _post_settings,
        ("register", "POST"): _register,
        ("deregister", "POST"): _deregister,
        ("request_code", "POST"): _request_code,
        ("verify_code", "POST"): _verify_code,
    }
    if edge == "phone_numbers":
        raise _nonexisting_field(edge, "WhatsAppBusinessPhoneNumber")
    handler = handlers.get((edge, req.method))
    if handler is None:
        raise _unsupported_method(req, edge)
    return handler(state, req, rec)


# -- phone number node ----------------------------------------------------------------------

def _requested_fields(req: ApiRequest, allowed, default, node_type: str) -> list[str]:
    raw = req.query.get("fields")
    if raw is None or raw.strip() == "":
        return list(default)
    wanted = [f.strip() for f in raw.split(",") if f.strip()]
    for name in wanted:
        if name not in allowed:
            raise _nonexisting_field(name, node_type)
    return wanted


def number_view(rec: dict, fields) -> dict:
    out = {"id": rec["id"]}
    for name in fields:
        if name == "is_pin_enabled":
            out[name] = rec["pin"] is not None
        elif name != "id":
            out[name] = rec[name]
    return out


def _get_number(state, req, rec):
    fields = _requested_fields(req, NUMBER_FIELDS, NUMBER_DEFAULT_FIELDS, "WhatsAppBusinessPhoneNumber")
    return 200, number_view(rec, fields)


def _pin_value(value, name="pin") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise bad_param(f"The parameter {name} is required.")
    if not isinstance(value, str) or not re.fullmatch(r"\d{6}", value):
        raise bad_param(f"Param {name} must be a 6-digit string.",
                        "The two-step verification PIN must be exactly 6 digits.")
    return value


def _set_pin(state, req, rec):
    params = req.params
    params.pop("messaging_product", None)
    extra = sorted(set(params) - {"pin"})
    if extra:
        raise bad_param(f"Unsupported parameter(s) for this node: {', '.join(extra)}")
    rec["pin"] = _pin_value(params.get("pin"))
    rec["failed_pin_attempts"] = 0
    return 200, {"success": True}


# -- settings -------------------------------------------------------------------------------

def _region(value) -> str:
    if not isinstance(value, str) or value.strip().upper() not in REGIONS:
        raise bad_param(
            f"Param data_localization_region must be one of {', '.join(REGIONS)}",
            f"Invalid data_localization_region {value!r}; supported regions: {', '.join(REGIONS)}.")
    return value.strip().upper()


def _maybe_json(value):
    """Form-encoded bodies carry nested objects as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _get_settings(state, req, rec):
    return 200, copy.deepcopy(rec["settings"])


def _storage_config(value) -> dict:
    if not isinstance(value, dict):
        raise bad_param("Param storage_configuration must be an object.")
    status = value.get("status")
    if not isinstance(status, str) or not status.strip():
        raise bad_param("Param storage_configuration.status is required.")
    status = status.strip().upper()
    if status == "IN_COUNTRY_STORAGE_ENABLED":
        if value.get("data_localization_region") in (None, ""):
            raise bad_param("Param storage_configuration.data_localization_region is required "
                            "when status is IN_COUNTRY_STORAGE_ENABLED.")
        return {"status": status, "data_localization_region": _region(value["data_localization_region"])}
    if status in ("IN_COUNTRY_STORAGE_DISABLED", "DEFAULT"):
        return {"status": "DEFAULT"}
    if status == "NO_STORAGE_ENABLED":
        minutes = value.get("retention_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise bad_param("Param storage_configuration.retention_minutes must be a positive integer.")
        return {"status": status, "retention_minutes": minutes}
    raise bad_param(f"Param storage_configuration.status has an invalid value '{value.get('status')}'; "
                    "use IN_COUNTRY_STORAGE_ENABLED or IN_COUNTRY_STORAGE_DISABLED.")


def _post_settings(state, req, rec):
    body = req.params
    updates = {}
    for key, value in body.items():
        value = _maybe_json(value)
        if not isinstance(value, dict):
            raise bad_param(f"Param {key} must be an object.")
        updates[key] = value
    if not updates:
        raise bad_param("No settings were given; send e.g. storage_configuration.")
    if "storage_configuration" in updates:
        if req.old_flow:
            raise bad_param(
                f"storage_configuration cannot be changed with /settings in {req.version}; "
                "in v20.0 and earlier pass data_localization_region to /register.")
        updates["storage_configuration"] = _storage_config(updates["storage_configuration"])
        if rec["platform_type"] == "CLOUD_API":
            raise bad_param("Local storage can only be enabled or disabled on unregistered phone numbers",
                            "Deregister the phone number before changing its local storage.")
    for key, value in updates.items():
        if key == "storage_configuration":
            rec["settings"][key] = value
        else:
            current = rec["settings"].get(key)
            merged = dict(current) if isinstance(current, dict) else {}
            merged.update(value)
            rec["settings"][key] = merged
    return 200, {"success": True}


# -- register / deregister ------------------------------------------------------------------

def _spend_budget(rec: dict, now: float) -> None:
    """Count one register/deregister call in the moving window, or refuse it with 133016."""
    blocked = rec.get("blocked_until")
    if blocked is not None and now < blocked:
        raise GraphError(133016, "Account register deregister rate limit exceeded",
                         details="Registration or deregistration attempts for this phone number "
                                 f"exceeded the limit; it is blocked until {_iso(blocked)} "
                                 f"(try again in {_wait_text(blocked - now)}).")
    if blocked is not None:
        rec["blocked_until"] = None
    window = [t for t in rec["registration_calls"] if t > now - BUDGET_WINDOW]
    if len(window) >= BUDGET_LIMIT:
        rec["registration_calls"] = window
        rec["blocked_until"] = now + BLOCK_SECONDS
        raise GraphError(133016, "Account register deregister rate limit exceeded",
                         details=f"More than {BUDGET_LIMIT} register/deregister calls in 72 hours; "
                                 f"this phone number is blocked until {_iso(now + BLOCK_SECONDS)}.")
    window.append(now)
    rec["registration_calls"] = window


def _pin_locked(rec: dict, now: float) -> None:
    until = rec.get("pin_locked_until")
    if until is None:
        return
    if now < until:
        raise GraphError(133008, "Too many two step verification PIN guesses for this phone number",
                         details=f"Too many incorrect PIN guesses. Wait {_wait_text(until - now)} "
                                 f"(until {_iso(until)}) before trying again.")
    rec["pin_locked_until"] = None
    rec["failed_pin_attempts"] = 0


def _register(state, req, rec):
    now = state.now()
    _spend_budget(rec, now)
    params = req.params
    product = params.get("messaging_product")
    if product in (None, ""):
        raise bad_param("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise bad_param("Param messaging_product must be 'whatsapp'.")
    pin = _pin_value(params.get("pin"))
    region = None
    if "data_localization_region" in params:
        if not req.old_flow:
            raise bad_param(
                f"Param data_localization_region is deprecated for /register in {req.version or DEFAULT_VERSION}; "
                "use POST /{phone-number-id}/settings with storage_configuration before registering.")
        region = _region(params["data_localization_region"])
        if rec["is_on_biz_app"]:
            raise bad_param("Local storage is not supported for phone numbers shared with the "
                            "WhatsApp Business app.")
    if rec["code_verification_status"] != "VERIFIED":
        raise GraphError(133006, "Phone number needs to be verified before registering",
                         details="Verify the phone number with request_code and verify_code first.")
    _pin_locked(rec, now)
    if rec["pin"] is None:
        rec["pin"] = pin
    elif pin != rec["pin"]:
        rec["failed_pin_attempts"] += 1
        if rec["failed_pin_attempts"] >= PIN_GUESSES:
            rec["pin_locked_until"] = now + PIN_LOCKOUT_SECONDS
            _pin_locked(rec, now)
        raise GraphError(133005, "Two step verification PIN Mismatch",
                         details="Two-step verification PIN incorrect.")
    rec["failed_pin_attempts"] = 0
    rec["platform_type"] = "CLOUD_API"
    rec["status"] = "CONNECTED"
    if req.old_flow:
        storage = rec["settings"].get("storage_configuration") or {}
        if region is not None:
            rec["settings"]["storage_configuration"] = {"status": "IN_COUNTRY_STORAGE_ENABLED",
                                                        "data_localization_region": region}
        elif storage.get("status") != "NO_STORAGE_ENABLED":
            rec["settings"]["storage_configuration"] = {"status": "DEFAULT"}
    return 200, {"success": True}


def _deregister(state, req, rec):
    _spend_budget(rec, state.now())
    if rec["platform_type"] != "CLOUD_API":
        raise GraphError(133010, "Phone number Not Registered",
                         details="The phone number is not registered with Cloud API.")
    if rec["is_on_biz_app"]:
        raise bad_param("Phone numbers shared with the WhatsApp Business app cannot be deregistered "
                        "through the API.")
    rec["platform_type"] = "NOT_APPLICABLE"
    rec["status"] = "DISCONNECTED"
    storage = rec["settings"].get("storage_configuration") or {}
    if not state.deregister_keeps_storage and storage.get("status") != "NO_STORAGE_ENABLED":
        rec["settings"]["storage_configuration"] = {"status": "DEFAULT"}
    return 200, {"success": True}


# -- verification ---------------------------------------------------------------------------

def _request_code(state, req, rec):
    params = req.params
    method = params.get("code_method")
    if not isinstance(method, str) or method.upper() not in ("SMS", "VOICE"):
        raise bad_param("Param code_method must be one of SMS, VOICE.")
    if not isinstance(params.get("language"), str) or not params["language"].strip():
        raise bad_param("The parameter language is required.")
    if rec["code_verification_status"] == "VERIFIED":
        raise GraphError(136024, "Verification code request failed",
                         details="The phone number is already verified.")
    rec["verification_code"] = "".join(secrets.choice(string.digits) for _ in range(6))
    return 200, {"success": True}


def _verify_code(state, req, rec):
    code = req.params.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code:
        raise bad_param("The parameter code is required.")
    if rec["verification_code"] is None:
        raise bad_param("No verification code was requested for this phone number.",
                        "Call request_code first.")
    if code != rec["verification_code"]:
        raise bad_param("The verification code is incorrect.",
                        "The verification code does not match the last code sent.")
    rec["code_verification_status"] = "VERIFIED"
    rec["verification_code"] = None
    return 200, {"success": True}


# -- business account -----------------------------------------------------------------------

def _cursor(id_: str) -> str:
    return base64.urlsafe_b64encode(id_.encode()).decode().rstrip("=")


def _uncursor(text: str) -> str:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_param("Invalid paging cursor.") from None


def _waba_call(state, req, waba_id, edge):
    if edge is None and req.method == "GET":
        _requested_fields(req, ("id",), ("id",), "WhatsAppBusinessAccount")
        return 200, {"id": waba_id}
    if edge not in (None, "phone_numbers"):
        raise _nonexisting_field(edge, "WhatsAppBusinessAccount")
    if req.method != "GET":
        raise _unsupported_method(req, edge)
    fields = _requested_fields(req, NUMBER_FIELDS, NUMBER_DEFAULT_FIELDS, "WhatsAppBusinessPhoneNumber")
    limit = req.query.get("limit", str(DEFAULT_PAGE_SIZE))
    if not limit.isdigit() or int(limit) < 1:
        raise bad_param("Param limit must be a positive integer.")
    limit = int(limit)
    ids = sorted(i for i, r in state.numbers.items() if r["waba_id"] == waba_id)
    if "after" in req.query:
        after = _uncursor(req.query["after"])
        page_ids = [i for i in ids if i > after][:limit]
    elif "before" in req.query:
        before = _uncursor(req.query["before"])
        page_ids = [i for i in ids if i < before][-limit:]
    else:
        page_ids = ids[:limit]
    body = {"data": [number_view(state.numbers[i], fields) for i in page_ids]}
    if not page_ids:
        return 200, body
    paging = {"cursors": {"before": _cursor(page_ids[0]), "after": _cursor(page_ids[-1])}}
    base = f"{req.base_url}/{req.version or DEFAULT_VERSION}/{waba_id}/phone_numbers"
    keep = {k: v for k, v in req.query.items() if k not in ("after", "before", "access_token")}
    keep["limit"] = str(limit)
    if ids.index(page_ids[0]) > 0:
        paging["previous"] = base + "?" + urllib.parse.urlencode(
            {**keep, "access_token": req.token, "before": paging["cursors"]["before"]})
    if page_ids[-1] != ids[-1]:
        paging["next"] = base + "?" + urllib.parse.urlencode(
            {**keep, "access_token": req.token, "after": paging["cursors"]["after"]})
    body["paging"] = paging
    return 200, body
