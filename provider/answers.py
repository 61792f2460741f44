"""Meta's error answers become typed errors here, and only here (pywa's ``_make_request`` idea).

A table, not a chain of branches: ``RULES`` first (the answers whose code alone does not say
which class), then the code itself (``errors.ERRORS_BY_CODE``, each class's ``codes``), then the
HTTP status. A new Meta code is a class in ``errors.py`` with ``codes=(...)``; an answer that
needs more than its code to classify is one more ``Rule``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, NamedTuple

from . import wording
from .errors import (
    ERRORS_BY_CODE,
    AppSecretProofRejected,
    GraphAPIError,
    NumberDeleted,
    ObjectNotFound,
    ServerError,
    UnclassifiedError,
    UnconfirmedMissingObject,
)

__all__ = ["RULES", "Rule", "error_class", "error_from_response"]


class Rule(NamedTuple):
    """An answer that Meta's code alone does not classify."""

    code: int
    cls: type[GraphAPIError]
    subcode: int | None = None  # None: any subcode
    message: re.Pattern[str] | None = None  # None: any message


# Checked in order before Meta's code alone; the first rule that matches the answer names its class.
RULES: tuple[Rule, ...] = (
    Rule(100, ObjectNotFound, subcode=33),
    # Meta gives no code or subcode of its own for a missing or wrong appsecret_proof (100,
    # GraphMethodException): the message is the only discriminator it offers.
    Rule(100, AppSecretProofRejected, message=re.compile(r"(?i)appsecret_proof")),
    # `error_subcode` is documented as deprecated: a "deleted" without Meta's subcode 33 is never a
    # confirmed missing object (nothing is dropped from state on it); it stays a plain refusal.
    Rule(33, NumberDeleted, subcode=33),
    Rule(33, UnconfirmedMissingObject),
)


def error_class(status: int, code: int | None = None, subcode: int | None = None, message: str = "",
                transient: bool = False) -> type[GraphAPIError]:
    """The class for an error answer: ``RULES``, then Meta's code, then the HTTP status."""
    for rule in RULES:
        if (rule.code == code and rule.subcode in (None, subcode)
                and (rule.message is None or rule.message.search(message))):
            return rule.cls
    if code is not None and code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[code]
    return ServerError if transient or status >= 500 else UnclassifiedError


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def error_from_response(status: int, body: Any, *, method: str = "", path: str = "", retry_after: float | None = None,
                        hints: Mapping[type[GraphAPIError], str] | None = None) -> GraphAPIError:
    """Turn an HTTP error answer into the typed error for Meta's code (the choke point).

    ``hints`` adds what the caller knows to a class's fix (and its subclasses'), e.g. where the token came from.
    """
    envelope = body.get("error") if isinstance(body, dict) else None
    if not isinstance(envelope, dict):  # not Meta's envelope (a proxy's HTML page, an empty body)
        text = "" if body is None else str(body)[:200]
        return error_class(status)(text, http_status=status, method=method, path=path, retry_after=retry_after)
    code, subcode = _as_int(envelope.get("code")), _as_int(envelope.get("error_subcode"))
    message = str(envelope.get("message") or "")
    cls = error_class(status, code, subcode, message, bool(envelope.get("is_transient")))
    data = envelope.get("error_data")
    details = data.get("details") if isinstance(data, dict) else (data if isinstance(data, str) else None)
    hint = next((text for kind, text in (hints or {}).items() if issubclass(cls, kind) and text), None)
    return cls(message, code=code, subcode=subcode, http_status=status, fbtrace_id=envelope.get("fbtrace_id"),
               details=details, error_type=envelope.get("type"), retry_after=retry_after, method=method, path=path,
               fix=wording.with_hint(cls.fix, hint))
