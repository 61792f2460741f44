"""Scrubbing secrets from anything this package prints or raises.

Long secrets are registered once (the access token and app secret when the configuration is
parsed, the ``appsecret_proof`` and proxy credentials when a client is built) and every message
passes through ``redact`` before a person or a log sees it. PINs are registered too
(``register_pin``: where the client sends one, and where a plain PIN is read from a stack file),
but six digits also occur inside phone number IDs, business account IDs and URNs: a PIN is
masked only as a whole run of digits, never inside a longer number. A pattern also masks PIN
fields in anything that echoes a body. Patterns also catch bearer headers, access_token and
appsecret_proof query parameters and credentials in URLs.
"""

from __future__ import annotations

import re
import threading

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_pins: set[str] = set()
_pin_pattern: re.Pattern[str] | None = None

_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (re.compile(r"(?i)((?:access_token|appsecret_proof|client_secret)=)[^&\s'\"]+"), r"\1" + MASK),
    (re.compile(r"(?i)([\"']?(?:access_token|appsecret_proof)[\"']?\s*:\s*[\"'])[^\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)([\"']?pin[\"']?\s*[:=]\s*[\"']?)\d{1,12}"), r"\1" + MASK),
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1" + MASK + "@"),
)


def register_secret(value: str | None) -> None:
    """Remember a value that must never be printed (ignored when too short to be a credential)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def register_pin(value: str | None) -> None:
    """Remember a PIN (ASCII digits) that must never be printed: masked as a whole run of digits only."""
    global _pin_pattern
    if not value or not value.isascii() or not value.isdigit() or len(value) < 4:
        return
    with _lock:
        if value in _pins:
            return
        _pins.add(value)
        alternatives = "|".join(sorted(_pins, key=len, reverse=True))
        _pin_pattern = re.compile(rf"(?<![0-9])(?:{alternatives})(?![0-9])")


def redact(text: object) -> str:
    """Return ``text`` as a string with every known secret and secret-shaped value masked."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
        pins = _pin_pattern
    for secret in known:
        out = out.replace(secret, MASK)
    if pins is not None:
        out = pins.sub(MASK, out)
    for pattern, repl in _PATTERNS:
        out = pattern.sub(repl, out)
    return out
