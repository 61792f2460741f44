"""`GET/POST /{phone-number-id}/whatsapp_business_profile`: the fields Meta's Business Profiles
reference documents, with its limits.

GET answers `{"data": [{...the fields asked, "messaging_product": "whatsapp"}]}`; POST changes the
fields sent and answers `{"success": true}`. Called under `State.lock` like the flows.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from .errors import bad_param, nonexisting_field
from .record import NumberRecord

if TYPE_CHECKING:
    from .request import ApiRequest
    from .state import State

EDGE = "whatsapp_business_profile"
NODE = "WhatsAppBusinessProfile"
# Readable fields, in the order of Meta's reference; `profile_picture_handle` is write-only.
FIELDS = ("about", "address", "description", "email", "profile_picture_url", "websites", "vertical")
WRITABLE = ("about", "address", "description", "email", "profile_picture_handle", "websites", "vertical")
MAX_LENGTH = {"about": 139, "address": 256, "description": 512, "email": 128}
MAX_WEBSITES = 2
MAX_WEBSITE_LENGTH = 256
# Meta's Business Profiles reference and its OpenAPI `WhatsAppBusinessVertical` (business-messaging-api
# v23.0): "can be an empty string". UNDEFINED and NOT_A_BIZ, in older pages, are no longer listed:
# refused on write, still served when a record holds them.
VERTICALS = ("", "OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE",
             "GROCERY", "GOVT", "HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL",
             "RESTAURANT", "ALCOHOL", "ONLINE_GAMBLING", "PHYSICAL_GAMBLING", "OTC_DRUGS")
# Where an uploaded picture is said to be served from (choice: no picture is kept).
PICTURE_URL = "https://example.com/whatsapp/profile/{digest}.jpg"


def get_profile(state: State, req: ApiRequest, rec: NumberRecord) -> tuple[int, dict[str, Any]]:
    raw = req.query.get("fields")
    wanted = [f.strip() for f in raw.split(",") if f.strip()] if raw else list(FIELDS)
    for name in wanted:
        if name not in FIELDS and name != "messaging_product":
            raise nonexisting_field(name, NODE)
    entry: dict[str, Any] = {name: rec.business_profile[name] for name in wanted
                             if name in rec.business_profile and name in FIELDS}
    if "vertical" in wanted:
        # Served even when never set, as the empty string Meta allows (choice): clients such as
        # pywa read it unconditionally.
        entry.setdefault("vertical", "")
    entry["messaging_product"] = "whatsapp"
    return 200, {"data": [entry]}


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise bad_param(f"Param {name} must be a string.")
    if len(value) > MAX_LENGTH[name]:
        raise bad_param(f"Param {name} must be at most {MAX_LENGTH[name]} characters long.")
    if name == "about" and not value.strip():
        raise bad_param("Param about must be at least 1 character long.")
    if name == "email" and value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise bad_param("Param email must be a valid email address.")
    return value


def _websites(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise bad_param("Param websites must be a list of URLs.")
    if len(value) > MAX_WEBSITES:
        raise bad_param(f"Param websites accepts at most {MAX_WEBSITES} URLs.")
    for site in value:
        if len(site) > MAX_WEBSITE_LENGTH or not re.match(r"https?://[^\s]+\Z", site):
            raise bad_param("Each website must start with http:// or https:// and be at most "
                            f"{MAX_WEBSITE_LENGTH} characters long.")
    return list(value)


def post_profile(state: State, req: ApiRequest, rec: NumberRecord) -> tuple[int, dict[str, Any]]:
    params = req.params
    product = params.pop("messaging_product", None)
    if product != "whatsapp":
        raise bad_param("The parameter messaging_product is required and must be 'whatsapp'.")
    unknown = sorted(set(params) - set(WRITABLE))
    if unknown:
        raise bad_param(f"Unsupported parameter(s) for {EDGE}: {', '.join(unknown)}")
    if not params:
        raise bad_param(f"No fields were given; send some of {', '.join(WRITABLE)}.")
    updates: dict[str, Any] = {}
    for name, value in params.items():
        if name in MAX_LENGTH:
            updates[name] = _text(name, value)
        elif name == "websites":
            updates[name] = _websites(value)
        elif name == "vertical":
            if not isinstance(value, str) or value not in VERTICALS:
                raise bad_param(f"Param vertical must be one of {', '.join(VERTICALS[1:])}, "
                                "or an empty string.")
            updates[name] = value
        else:  # profile_picture_handle: a handle from the Resumable Upload API
            if not isinstance(value, str) or not value.strip():
                raise bad_param("Param profile_picture_handle must be an upload handle.")
            digest = hashlib.sha256(value.encode()).hexdigest()[:16]
            updates["profile_picture_url"] = PICTURE_URL.format(digest=digest)
    rec.business_profile.update(updates)
    return 200, {"success": True}
