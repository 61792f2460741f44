"""The emulated WhatsApp Cloud API: versioned Graph paths, authentication, the phone number
node and the business account listing.

`handle()` takes an `ApiRequest` and returns `(http_status, body)` or raises `GraphError`; it
knows nothing about sockets. The rules of the calls that change a number (PIN, settings,
register, deregister, verification) live in flows.py; the node's fields in fields.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from provider import versions

from . import flows, profile
from .errors import (BUSINESS_ACCOUNT_NODE, PHONE_NUMBER_NODE, GraphError, bad_param,
                     invalid_appsecret_proof, invalid_token, missing_appsecret_proof, missing_token,
                     no_such_object, nonexisting_field)
from .fields import number_view, requested_fields
from .record import NumberRecord
from .state import State

DEFAULT_VERSION = "v25.0"
SERVED_VERSION_HEADER = "facebook-api-version"
EDGES = ("settings", "register", "deregister", "request_code", "verify_code", "phone_numbers",
         profile.EDGE)
# Graph-wide parameters that any call may carry; they are never part of an endpoint's payload.
TRANSPORT_PARAMS = ("access_token", "appsecret_proof", "appsecret_time", "pretty", "format",
                    "suppress_http_code", "debug", "method")

INVALID_BODY = object()  # the parsed body of a request whose body is neither JSON nor form data


@dataclass
class ApiRequest:
    method: str
    path: str                      # without the version prefix, e.g. "/106540352242922/register"
    version: str | None            # "v21.0", or None for an unversioned path
    query: dict[str, str] = field(default_factory=dict)
    body: object = None            # parsed JSON/form body, INVALID_BODY, or None
    token: str | None = None
    base_url: str = "http://127.0.0.1"
    # The version the call is served as on the emulator's clock (set by `handle`): a retired
    # version is served as the oldest live one, as Meta does.
    served: str = DEFAULT_VERSION
    served_known: bool = False

    @property
    def params(self) -> dict[str, Any]:
        """Query parameters overlaid with body parameters (curl -d sends either form or JSON)."""
        merged = dict(self.query)
        if isinstance(self.body, dict):
            merged.update(self.body)
        for name in TRANSPORT_PARAMS:
            merged.pop(name, None)
        return merged

    def transport_param(self, name: str) -> object:
        """A Graph-wide parameter from the query or, failing that, from a form or JSON body."""
        if name in self.query:
            return self.query[name]
        if isinstance(self.body, dict):
            return self.body.get(name)
        return None

    @property
    def appsecret_proof(self) -> object:
        return self.transport_param("appsecret_proof")

    @property
    def version_name(self) -> str:
        """The version the call is served as: an unversioned path gets the default one."""
        return self.version or DEFAULT_VERSION


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


# -- dispatch -------------------------------------------------------------------------------

def handle(state: State, req: ApiRequest) -> tuple[int, dict[str, Any]]:
    if req.version is not None:
        parse_version(req.version)
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
            try:
                return _number_call(state, req, rec, edge)
            finally:
                if req.method == "POST":
                    state.save()
        if object_id in state.wabas:
            return _waba_call(state, req, object_id, edge)
    raise no_such_object(req.method, object_id)


APPSECRET_TIME_SKEW = 300  # seconds an appsecret_time may differ from the clock (choice)


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
    expected = state.expected_appsecret_proof(signed)
    if expected is None:
        return
    proof = req.appsecret_proof
    if proof is None or proof == "":
        raise missing_appsecret_proof()
    if not isinstance(proof, str) or not hmac.compare_digest(proof.encode(), expected.encode()):
        raise invalid_appsecret_proof()


def _unsupported_method(req: ApiRequest, edge: str | None) -> GraphError:
    where = f"/{edge}" if edge else "this node"
    return bad_param(f"Unsupported {req.method.lower()} request on {where}")


_NUMBER_HANDLERS = {
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


def _number_call(state: State, req: ApiRequest, rec: NumberRecord,
                 edge: str | None) -> tuple[int, dict[str, Any]]:
    if edge == "phone_numbers":
        raise nonexisting_field(edge, PHONE_NUMBER_NODE)
    if (edge, req.method) == (None, "GET"):
        return 200, number_view(rec, requested_fields(req.query.get("fields"), state.rejected_fields))
    handler = _NUMBER_HANDLERS.get((edge, req.method))
    if handler is None:
        raise _unsupported_method(req, edge)
    return handler(state, req, rec)


# -- business account -----------------------------------------------------------------------

def _cursor(id_: str) -> str:
    return base64.urlsafe_b64encode(id_.encode()).decode().rstrip("=")


def _uncursor(text: str) -> str:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_param("Invalid paging cursor.") from None


def _waba_call(state: State, req: ApiRequest, waba_id: str,
               edge: str | None) -> tuple[int, dict[str, Any]]:
    if edge is None and req.method == "GET":
        raw = req.query.get("fields")
        for name in (f.strip() for f in (raw or "").split(",") if f.strip()):
            if name != "id":
                raise nonexisting_field(name, BUSINESS_ACCOUNT_NODE)
        return 200, {"id": waba_id}
    if edge not in (None, "phone_numbers"):
        raise nonexisting_field(edge, BUSINESS_ACCOUNT_NODE)
    if req.method != "GET":
        raise _unsupported_method(req, edge)
    fields = requested_fields(req.query.get("fields"), state.rejected_fields)
    raw_limit = req.query.get("limit", str(state.get_page_size()))
    if not re.fullmatch(r"[0-9]{1,6}", raw_limit) or int(raw_limit) < 1:
        raise bad_param("Param limit must be a positive integer.")
    limit = int(raw_limit)
    ids = sorted(i for i, r in state.numbers.items() if r.waba_id == waba_id)
    if "after" in req.query:
        after = _uncursor(req.query["after"])
        page_ids = [i for i in ids if i > after][:limit]
    elif "before" in req.query:
        before = _uncursor(req.query["before"])
        page_ids = [i for i in ids if i < before][-limit:]
    else:
        page_ids = ids[:limit]
    body: dict[str, Any] = {"data": [number_view(state.numbers[i], fields) for i in page_ids]}
    if not page_ids:
        return 200, body
    paging: dict[str, Any] = {"cursors": {"before": _cursor(page_ids[0]), "after": _cursor(page_ids[-1])}}
    base = f"{req.base_url}/{req.version_name}/{waba_id}/phone_numbers"
    # Like Meta's, the page links carry the caller's token (and its appsecret_proof, if it came
    # in the query) so that they work as they are.
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
