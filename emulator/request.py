"""One Graph API call as the rules see it: method, path, version, parameters and token.

A module of its own so that the router (graph.py) and the rules it calls (flows.py, profile.py,
listing.py) all import it and none of them imports another for its type: the emulator's imports
form no cycle, `TYPE_CHECKING` ones included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_VERSION = "v25.0"
# Graph-wide parameters that any call may carry; they are never part of an endpoint's payload.
TRANSPORT_PARAMS = ("access_token", "appsecret_proof", "appsecret_time", "pretty", "format",
                    "suppress_http_code", "debug", "method")

INVALID_BODY = object()  # the parsed body of a request whose body is neither JSON nor form data

Answer = tuple[int, dict[str, Any]]


@dataclass
class ApiRequest:
    method: str
    path: str                      # without the version prefix, e.g. "/106540352242922/register"
    version: str | None            # "v21.0", or None for an unversioned path
    query: dict[str, str] = field(default_factory=dict)
    body: object = None            # parsed JSON/form body, INVALID_BODY, or None
    token: str | None = None
    base_url: str = "http://127.0.0.1"
    # The version the call is served as on the emulator's clock (set by `graph.handle`): a retired
    # version is served as the oldest live one, as Meta does.
    served: str = DEFAULT_VERSION
    served_known: bool = False
    # The business account the call is about (set by `graph.handle` once the object is known):
    # its usage header, and its hourly limit when the call is one Meta counts.
    business_id: str | None = None

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
        """The version the call names: an unversioned path gets the default one."""
        return self.version or DEFAULT_VERSION
