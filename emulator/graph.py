"""The emulated WhatsApp Cloud API: versioned Graph paths, authentication, and routing to the
phone number node, its edges and the business account.

`handle()` takes an `ApiRequest` and returns `(http_status, body)` or raises `GraphError`; it
knows nothing about sockets. The rules of the calls that change a number (PIN, settings,
register, deregister, verification) live in flows.py, the business profile in profile.py, the
business account and its listing in listing.py, the node's fields in fields.py.
"""

from __future__ import annotations

import datetime
import hmac
import re
from typing import Any, Callable

from provider import versions

from . import flows, listing, profile
from .errors import GraphError, PHONE_NUMBER_NODE, bad_param, invalid_appsecret_proof, invalid_token
from .errors import missing_appsecret_proof, missing_token, no_such_object, nonexisting_field
from .fields import number_view, requested_fields
from .record import NumberRecord
from .request import INVALID_BODY, Answer, ApiRequest
from .state import State

SERVED_VERSION_HEADER = "facebook-api-version"
EDGES = ("settings", "register", "deregister", "request_code", "verify_code", "phone_numbers",
         profile.EDGE)
NEWEST_VERSION = versions.RELEASES[-1].version


def clock_date(epoch: float) -> datetime.date:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).date()


def parse_version(text: str) -> tuple[int, int]:
    try:
        return versions.parse(text)
    except ValueError:
        raise bad_param(f"Unknown API version '{text}'; use a path like /v25.0/...") from None


def split_version(path: str) -> tuple[str | None, str]:
    """Split "/v21.0/123/register" into ("v21.0", "/123/register").

    A first segment that is all digits is an unversioned call; one that starts with "v" and is
    not a valid version is an error (raised by `parse_version`).
    """
    parts = path.split("/", 2)
    first = parts[1] if len(parts) > 1 else ""
    if first[:1] in ("v", "V"):
        rest = "/" + parts[2] if len(parts) > 2 else "/"
        return first, rest
    return None, path or "/"


def _check_version(req: ApiRequest) -> None:
    """A malformed version is 100; one newer than any released (versions.py's table) is Meta's
    answer to a path it cannot route (a field report against the live API)."""
    if req.version is None:
        return
    if parse_version(req.version) > versions.parse(NEWEST_VERSION):
        raise GraphError(2500, f"Unknown path components: /{req.version}{req.path}", prefix=False)


# -- dispatch -------------------------------------------------------------------------------

def handle(state: State, req: ApiRequest) -> Answer:
    _check_version(req)
    with state.lock:
        req.served = versions.served(req.version_name, clock_date(state.now()))
        req.served_known = True
        _authenticate(state, req)
        segments = [s for s in req.path.split("/") if s]
        if not segments or len(segments) > 2 or (len(segments) == 2 and segments[1] not in EDGES):
            raise GraphError(100, f"Unknown path components: {req.path}", status=404)
        if req.body is INVALID_BODY:
            raise bad_param("The request body could not be parsed as JSON or form data.")
        object_id = segments[0]
        edge = segments[1] if len(segments) == 2 else None
        rec = state.numbers.get(object_id)
        if rec is not None:
            req.business_id = rec.waba_id
            try:
                return _number_call(state, req, rec, edge)
            finally:
                if req.method == "POST":
                    state.save()
        if object_id in state.wabas:
            req.business_id = object_id
            return listing.account_call(state, req, object_id, edge)
    raise no_such_object(req.method, object_id)


APPSECRET_TIME_SKEW = 300  # Meta: time-stamped proofs "will be considered expired after 5 minutes"


def _authenticate(state: State, req: ApiRequest) -> None:
    """The token must be accepted and, while an app secret is required, carry its proof: the
    HMAC of the token, or (with `appsecret_time`) of `token|time`, Meta's time-based form."""
    if req.token is None:
        raise missing_token()
    if req.token not in state.tokens:
        raise invalid_token()
    stamp = req.transport_param("appsecret_time")
    signed = req.token
    if stamp is not None and stamp != "":
        if not isinstance(stamp, str) or not re.fullmatch(r"[0-9]{1,12}", stamp) \
                or abs(int(stamp) - state.now()) > APPSECRET_TIME_SKEW:
            raise invalid_appsecret_proof()
        signed = f"{req.token}|{stamp}"
    expected = state.knobs.expected_appsecret_proof(signed)
    if expected is None:
        return
    proof = req.appsecret_proof
    if proof is None or proof == "":
        raise missing_appsecret_proof()
    if not isinstance(proof, str) or not hmac.compare_digest(proof.encode(), expected.encode()):
        raise invalid_appsecret_proof()


def _read_node(state: State, req: ApiRequest, rec: NumberRecord) -> Answer:
    state.count_business_call(rec.waba_id)  # Meta counts node reads against the account's limit
    return 200, number_view(rec, requested_fields(req.query.get("fields"), state.knobs.rejected_fields))


_NUMBER_HANDLERS: dict[tuple[str | None, str], Callable[[State, ApiRequest, NumberRecord], Answer]] = {
    (None, "GET"): _read_node,
    (None, "POST"): flows.set_pin,
    ("settings", "GET"): flows.get_settings,
    ("settings", "POST"): flows.post_settings,
    ("register", "POST"): flows.register,
    ("deregister", "POST"): flows.deregister,
    ("request_code", "POST"): flows.request_code,
    ("verify_code", "POST"): flows.verify_code,
    (profile.EDGE, "GET"): profile.get_profile,
    (profile.EDGE, "POST"): profile.post_profile,
}


def _number_call(state: State, req: ApiRequest, rec: NumberRecord, edge: str | None) -> tuple[int, dict[str, Any]]:
    if edge == "phone_numbers":
        raise nonexisting_field(edge, PHONE_NUMBER_NODE)
    handler = _NUMBER_HANDLERS.get((edge, req.method))
    if handler is None:
        where = f"/{edge}" if edge else "this node"
        raise bad_param(f"Unsupported {req.method.lower()} request on {where}")
    return handler(state, req, rec)
