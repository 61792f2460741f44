"""The business account node and its `phone_numbers` edge: Meta's listing, sorted and paged as
documented, and the creation of a number in the account.

Listings (Meta's "Get All Phone Numbers" page and the OpenAPI spec for `GET /{WABA-ID}/phone_numbers`):
25 per page by default, `limit` up to 100 (more is clamped to 100: a choice, Meta documents only the
maximum), `sort` one of `creation_time.asc|desc` and `last_onboarded_time.asc|desc`, newest
embedded-signup completion first by default; without `fields=` each entry has `id`,
`display_phone_number`, `verified_name` and `quality_rating`. Called under `State.lock`.
"""

from __future__ import annotations

import base64
import binascii
import math
import random
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

from .errors import BUSINESS_ACCOUNT_NODE, bad_param, nonexisting_field
from .fields import LISTING_DEFAULT_FIELDS, number_view, requested_fields
from .limits import MAX_PAGE_SIZE
from .record import NumberRecord

if TYPE_CHECKING:
    from .request import Answer, ApiRequest
    from .state import State

# sort value -> (the record's time it orders by, newest first)
SORTS = {"creation_time.asc": ("created_at", False), "creation_time.desc": ("created_at", True),
         "last_onboarded_time.asc": ("onboarded_at", False),
         "last_onboarded_time.desc": ("onboarded_at", True)}
DEFAULT_SORT = "last_onboarded_time.desc"

SortKey = tuple[float, int]  # (time, ID), both negated for a newest-first order


def _sort_key(rec: NumberRecord, attr: str, newest_first: bool) -> SortKey:
    """Where a number stands in the listing; numbers with the same time go by ID, in the sort's
    direction (choice), so that `.desc` is exactly `.asc` reversed."""
    when, id_ = float(getattr(rec, attr)), int(rec.id)
    return (-when, -id_) if newest_first else (when, id_)


def _cursor(key: SortKey) -> str:
    """Opaque to clients; it holds the position itself, so paging survives a deleted number."""
    return base64.urlsafe_b64encode(f"{key[0]!r}:{key[1]}".encode()).decode().rstrip("=")


def _uncursor(text: str) -> SortKey:
    try:
        when, id_ = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split(":")
        if not re.fullmatch(r"-?[0-9]{1,30}", id_) or not math.isfinite(float(when)):
            raise ValueError(id_)
        return float(when), int(id_)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_param("Invalid paging cursor.") from None


def _limit(req: ApiRequest, state: State) -> int:
    raw = req.query.get("limit", str(state.knobs.page_size))
    if not re.fullmatch(r"[0-9]{1,12}", raw) or int(raw) < 1:
        raise bad_param("Param limit must be a positive integer.")
    return min(int(raw), MAX_PAGE_SIZE)


def account_call(state: State, req: ApiRequest, waba_id: str, edge: str | None) -> Answer:
    if edge not in (None, "phone_numbers"):
        raise nonexisting_field(edge or "", BUSINESS_ACCOUNT_NODE)
    if req.method == "POST" and edge == "phone_numbers":
        return create_number(state, req, waba_id)
    if req.method != "GET":
        raise bad_param(f"Unsupported {req.method.lower()} request on {'/' + edge if edge else 'this node'}")
    state.count_business_call(waba_id)  # Meta counts both against the account's hourly limit
    if edge is None:
        for name in (f.strip() for f in (req.query.get("fields") or "").split(",") if f.strip()):
            if name != "id":
                raise nonexisting_field(name, BUSINESS_ACCOUNT_NODE)
        return 200, {"id": waba_id}
    return 200, listing(state, req, waba_id)


def listing(state: State, req: ApiRequest, waba_id: str) -> dict[str, Any]:
    fields = requested_fields(req.query.get("fields"), state.knobs.rejected_fields, LISTING_DEFAULT_FIELDS)
    limit = _limit(req, state)
    sort = req.query.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        raise bad_param(f"Param sort must be one of {', '.join(SORTS)}.")
    attr, newest_first = SORTS[sort]
    ordered = sorted(((_sort_key(r, attr, newest_first), r) for r in state.account_numbers(waba_id)),
                     key=lambda pair: pair[0])
    if "after" in req.query:
        after = _uncursor(req.query["after"])
        page = [pair for pair in ordered if pair[0] > after][:limit]
    elif "before" in req.query:
        before = _uncursor(req.query["before"])
        page = [pair for pair in ordered if pair[0] < before][-limit:]
    else:
        page = ordered[:limit]
    body: dict[str, Any] = {"data": [number_view(rec, fields) for _, rec in page]}
    if not page:
        return body
    first, last = page[0][0], page[-1][0]
    paging: dict[str, Any] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
    base = f"{req.base_url}/{req.version_name}/{waba_id}/phone_numbers"
    # Like Meta's, the page links carry the caller's token (and its appsecret_proof, if it came
    # in the query) so that they work as they are.
    keep = {k: v for k, v in req.query.items() if k not in ("after", "before", "access_token")}
    keep["limit"] = str(limit)
    if first > ordered[0][0]:
        paging["previous"] = base + "?" + urllib.parse.urlencode(
            {**keep, "access_token": req.token, "before": paging["cursors"]["before"]})
    if last < ordered[-1][0]:
        paging["next"] = base + "?" + urllib.parse.urlencode(
            {**keep, "access_token": req.token, "after": paging["cursors"]["after"]})
    body["paging"] = paging
    return body


def create_number(state: State, req: ApiRequest, waba_id: str) -> Answer:
    """`POST /{waba_id}/phone_numbers {cc, phone_number, verified_name}`: a new number in the
    account, as Meta's "Registering business phone numbers" step 1 creates it (not verified, not
    registered, pending the name review); the answer is its ID."""
    params = req.params
    cc, number, name = params.get("cc"), params.get("phone_number"), params.get("verified_name")
    if not isinstance(cc, str) or not re.fullmatch(r"[0-9]{1,3}", cc.lstrip("+")):
        raise bad_param("Param cc must be a country calling code such as 1 or 55.")
    if not isinstance(number, str) or not re.fullmatch(r"[0-9][0-9 -]{3,19}", number):
        raise bad_param("Param phone_number must be the phone number without its country code.")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise bad_param("Param verified_name must be the business name (1-256 characters).")
    display = f"+{cc.lstrip('+')} {number}"
    digits = re.sub(r"[^0-9]", "", display)
    if any(re.sub(r"[^0-9]", "", r.display_phone_number) == digits for r in state.numbers.values()):
        raise bad_param(f"Phone number {display} is already in use by a business account.")
    new_id = str(random.randint(10**14, 10**15 - 1))
    while new_id in state.numbers:
        new_id = str(random.randint(10**14, 10**15 - 1))
    state.add_number({"id": new_id, "waba_id": waba_id, "display_phone_number": display,
                      "verified_name": name, "code_verification_status": "NOT_VERIFIED",
                      "platform_type": "NOT_APPLICABLE", "status": "PENDING"})
    return 200, {"id": new_id}
