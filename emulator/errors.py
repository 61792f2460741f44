"""The Graph error envelope and the errors the emulated API answers with.

One place decides a Graph error's HTTP status, type and message shape, so the API rules
(graph.py, flows.py), the app-secret check and injected faults (server.py) answer alike.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

PHONE_NUMBER_NODE = "WhatsAppBusinessPhoneNumber"
BUSINESS_ACCOUNT_NODE = "WhatsAppBusinessAccount"


def http_status_for(code: int) -> int:
    """The HTTP status Meta uses for a Graph error code."""
    if code in (0, 190):
        return 401
    if code == 10 or 200 <= code <= 299 or code in (131005, 131031, 368):
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
    """A Graph API error answer: HTTP status, envelope fields and extra response headers."""

    def __init__(self, code: int, message: str, *, subcode: int | None = None,
                 details: str | None = None, status: int | None = None,
                 error_type: str | None = None, error_data: object = None, prefix: bool = True,
                 headers: dict[str, str] | None = None) -> None:
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

    def envelope(self) -> dict[str, Any]:
        err = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.error_data is not None:
            err["error_data"] = self.error_data
        err["fbtrace_id"] = fbtrace_id()
        return {"error": err}


def no_such_object(method: str, object_id: str) -> GraphError:
    """Meta's exact answer for an id that does not exist or that the token cannot see."""
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation",
        subcode=33, prefix=False)


def bad_param(message: str, details: str | None = None) -> GraphError:
    return GraphError(100, message, details=details or message)


def nonexisting_field(name: str, node_type: str) -> GraphError:
    return bad_param(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def missing_token() -> GraphError:
    return GraphError(190, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token")


# "Require App Secret": Meta's messages carry no "(#100)" prefix and the type is GraphMethodException.
def missing_appsecret_proof() -> GraphError:
    return GraphError(100, "API calls from the server require an appsecret_proof argument",
                      error_type="GraphMethodException", prefix=False)


def invalid_appsecret_proof() -> GraphError:
    return GraphError(100, "Invalid appsecret_proof provided in the API argument",
                      error_type="GraphMethodException", prefix=False)
