"""The phone number node's fields: which exist, which are served by default, and their values.

The same view serves `GET /{phone-number-id}` and each entry of `GET /{waba-id}/phone_numbers`.
Fields the record holds are served as stored; the others (quality, throughput, name review,
limits, health, ...) are derived from the record so that they stay plausible as the number
changes state: a number that never passed code verification is new (UNKNOWN quality, name
pending review, the lowest messaging tier), a number not registered with Cloud API cannot send.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Callable, Iterable

from .errors import PHONE_NUMBER_NODE, nonexisting_field
from .record import NumberRecord

# Meta's reference for the WhatsApp Business phone number node (v23-v25), in its order.
PHONE_NUMBER_FIELDS = (
    "id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
    "quality_score", "platform_type", "throughput", "status", "name_status", "new_name_status",
    "account_mode", "is_official_business_account", "is_on_biz_app", "is_pin_enabled",
    "is_preverified_number", "messaging_limit_tier", "whatsapp_business_manager_messaging_limit",
    "conversational_automation", "webhook_configuration", "health_status", "search_visibility",
    "eligibility_for_api_business_global_search", "certificate", "new_certificate",
    "last_onboarded_time", "host_platform", "country_code", "country_dial_code",
)
# What Meta answers without `fields=`: a listing (Meta's "Get All Phone Numbers" page, business
# management API; OpenAPI `GET /{WABA-ID}/phone_numbers` example) and a single number (Meta's
# "Get a Single Phone Number" sample adds code_verification_status).
LISTING_DEFAULT_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating")
NODE_DEFAULT_FIELDS = LISTING_DEFAULT_FIELDS + ("code_verification_status",)
WEBHOOK_URL = "https://example.com/whatsapp/webhook"

# ITU-T E.164 country calling codes form a prefix code: at most one is a prefix of a number.
DIAL_CODES = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR",
    "34": "ES", "36": "HU", "39": "IT", "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK",
    "46": "SE", "47": "NO", "48": "PL", "49": "DE", "51": "PE", "52": "MX", "54": "AR", "55": "BR",
    "56": "CL", "57": "CO", "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG",
    "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR", "91": "IN", "92": "PK",
    "234": "NG", "254": "KE", "351": "PT", "353": "IE", "852": "HK", "966": "SA", "971": "AE",
    "972": "IL", "973": "BH", "974": "QA",
}


def dial_code_of(display_phone_number: str) -> str | None:
    digits = "".join(c for c in display_phone_number if c.isdigit())
    for length in (1, 2, 3):
        if digits[:length] in DIAL_CODES:
            return digits[:length]
    return None


def _new(rec: NumberRecord) -> bool:
    return rec.code_verification_status != "VERIFIED"


def _quality(rec: NumberRecord) -> str:
    return "UNKNOWN" if _new(rec) else "GREEN"


def _name_status(rec: NumberRecord) -> str:
    return "PENDING_REVIEW" if _new(rec) else "APPROVED"


def _tier(rec: NumberRecord) -> str:
    # TIER_250 and TIER_10K exist both in Meta's old tier names and in its 2025 ones.
    return "TIER_250" if _new(rec) else "TIER_10K"


def _certificate(rec: NumberRecord) -> str:
    return base64.b64encode(f"wa-cert:{rec.id}:{rec.verified_name}".encode()).decode()


def _health(rec: NumberRecord) -> dict[str, Any]:
    number: dict[str, Any] = {"entity_type": "PHONE_NUMBER", "id": rec.id, "can_send_message": "AVAILABLE"}
    if not rec.registered:
        number["can_send_message"] = "BLOCKED"
        number["errors"] = [{"error_code": 133010,
                             "error_description": "The phone number is not registered with Cloud API.",
                             "possible_solution": "Register the phone number."}]
    return {"can_send_message": number["can_send_message"],
            "entities": [number,
                         {"entity_type": "WABA", "id": rec.waba_id, "can_send_message": "AVAILABLE"}]}


def _host_platform(rec: NumberRecord) -> str:
    return rec.platform_type if rec.platform_type in ("CLOUD_API", "ON_PREMISE") else "NOT_APPLICABLE"


_DERIVED: dict[str, Callable[[NumberRecord], Any]] = {
    "is_pin_enabled": lambda r: r.pin is not None,
    "quality_rating": _quality,
    "quality_score": lambda r: {"score": _quality(r)},
    "throughput": lambda r: {"level": "STANDARD" if r.registered else "NOT_APPLICABLE"},
    "name_status": _name_status,
    # The last requested name is the current one: its review and certificate are the current ones.
    "new_name_status": _name_status,
    "account_mode": lambda r: "LIVE",
    "is_official_business_account": lambda r: False,
    "is_preverified_number": lambda r: False,
    "messaging_limit_tier": _tier,
    "whatsapp_business_manager_messaging_limit": _tier,
    "conversational_automation": lambda r: {"enable_welcome_message": False, "prompts": [],
                                            "commands": [], "id": r.id},
    "webhook_configuration": lambda r: {"application": WEBHOOK_URL},
    "health_status": _health,
    "search_visibility": lambda r: "VISIBLE" if r.registered else "NON_VISIBLE",
    "eligibility_for_api_business_global_search": lambda r: "ELIGIBLE" if r.registered else "NOT_ELIGIBLE",
    "certificate": _certificate,
    "new_certificate": _certificate,
    "last_onboarded_time": lambda r: graph_time(r.onboarded_at),
    "host_platform": _host_platform,
    "country_dial_code": lambda r: dial_code_of(r.display_phone_number),
    "country_code": lambda r: DIAL_CODES.get(dial_code_of(r.display_phone_number) or ""),
}


def graph_time(epoch: float) -> str:
    """A time as Graph writes it: `2024-06-03T09:12:44+0000`."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def rejectable_fields(names: object) -> frozenset[str]:
    """The control API's list of fields to make "nonexisting"; ValueError names the problem."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("reject must be a list of phone number field names")
    unknown = sorted(set(names) - set(PHONE_NUMBER_FIELDS))
    if unknown:
        raise ValueError(f"not phone number field(s): {', '.join(unknown)}; "
                         f"known: {', '.join(PHONE_NUMBER_FIELDS)}")
    if "id" in names:
        raise ValueError("id cannot be rejected: every Graph node has it")
    return frozenset(names)


def requested_fields(raw: str | None, rejected: frozenset[str] = frozenset(),
                     defaults: tuple[str, ...] = NODE_DEFAULT_FIELDS) -> list[str]:
    """The fields a `fields=` parameter asks for, or the default ones.

    A name that is not a phone number field, or one made "nonexisting" by the control API,
    gets Meta's nonexisting-field error. The default fields skip rejected ones.
    """
    if raw is None or raw.strip() == "":
        return [f for f in defaults if f not in rejected or f == "id"]
    wanted = [f.strip() for f in raw.split(",") if f.strip()]
    for name in wanted:
        if name not in PHONE_NUMBER_FIELDS or name in rejected:
            raise nonexisting_field(name, PHONE_NUMBER_NODE)
    return wanted


def number_view(rec: NumberRecord, fields: Iterable[str]) -> dict[str, Any]:
    """The node as Graph serves it: `id` always, then the fields asked for; unknown values omitted."""
    out: dict[str, Any] = {"id": rec.id}
    for name in fields:
        if name == "id":
            continue
        value = _DERIVED[name](rec) if name in _DERIVED else getattr(rec, name)
        if value is not None:
            out[name] = value
    return out
