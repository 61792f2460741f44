"""A fake Graph API behind a requests transport adapter (HTTPX's MockTransport idea).

Tests hand ``graph_session(handler)`` to ``GraphClient(session=...)``: every request the client
makes goes through the real client code (params, headers, proxies, redaction, retries) and ends
in ``handler(request)``, which returns ``(status, body, headers)`` or raises what a connection
would raise. Nothing private of the client is patched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter

Answer = tuple[int, Any, dict[str, str]]


def ok(body: Any = None, **headers: str) -> Answer:
    return 200, {"success": True} if body is None else body, dict(headers)


def graph_error(code: int, message: str, *, status: int = 400, subcode: int | None = None,
                error_type: str = "OAuthException", headers: Mapping[str, str] | None = None) -> Answer:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code, "fbtrace_id": "AfakeTrace"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return status, {"error": error}, dict(headers or {})


def url_of(request: requests.PreparedRequest) -> str:
    """A prepared request always has its URL; requests types it ``str | None`` for the unprepared state."""
    assert request.url is not None, "a prepared request without a URL"
    return request.url


def query_of(request: requests.PreparedRequest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(urlsplit(url_of(request)).query, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


class FakeGraph(BaseAdapter):
    """Answers each request with ``handler(request)``; keeps every request in ``requests``."""

    def __init__(self, handler: Callable[[requests.PreparedRequest], Answer]) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.requests.append(request)
        status, body, headers = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
        response.headers.update({"Content-Type": "application/json", **headers})
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def graph_session(handler: Callable[[requests.PreparedRequest], Answer]) -> tuple[requests.Session, FakeGraph]:
    session = requests.Session()
    fake = FakeGraph(handler)
    session.mount("https://", fake)
    session.mount("http://", fake)
    return session, fake


def path_of(request: requests.PreparedRequest) -> str:
    """``/v25.0/123/settings`` -> ``/123/settings``."""
    return "/" + urlsplit(url_of(request)).path.strip("/").split("/", 1)[1]


def appsecret_proof(app_secret: str, token: str) -> str:
    """Meta's ``appsecret_proof``: HMAC-SHA256 of the token keyed by the app secret, lower-case hex."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
