"""Who may talk to the emulator: a local client, never a web page's cross-site request.

Both APIs change a number without anything a browser could not send (the control API needs no
token; the Graph API's demo token is public), so a page a developer visits could drive them by
CSRF, or read them by DNS rebinding (its own host name resolving to 127.0.0.1). The `Host` header
must name a loopback address or the address the server is bound to (a rebinding page sends its
own name), and an `Origin`, which browsers add to cross-site requests, must be such a host too.
"""

from __future__ import annotations

import ipaddress
import urllib.parse


def _loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(value: str) -> str | None:
    """The host name of a Host header value (`name`, `name:port`, `[v6]:port`); None if malformed."""
    try:
        return urllib.parse.urlsplit("//" + value.strip()).hostname
    except ValueError:
        return None


def refusal(api: str, host_header: str | None, origin: str | None, bind_host: str) -> str | None:
    """Why a call to `api` ("control API" or "Graph API") must be refused; None: it may proceed."""
    def local(host: str | None) -> bool:
        return host is not None and (_loopback_name(host) or host == bind_host.lower())

    if host_header is None or not local(_host_of(host_header)):
        return f"{api} refused: Host {host_header!r} is not a loopback address or {bind_host}"
    if origin is not None:
        parts = urllib.parse.urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not local(parts.hostname):
            return f"{api} refused: Origin {origin!r} is not a local page"
    return None
