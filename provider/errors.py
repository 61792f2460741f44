"""Every error this package raises, and the one place Graph API answers become typed errors.

The top of the hierarchy says what to do next (kopf's PermanentError/TemporaryError idea):

- ``TransientError``: retrying may succeed (bounded backoff, honouring Retry-After);
- ``UserActionRequired``: a person must fix something first; never retried;
- ``FatalError``: the request itself is wrong; never retried;
- ``ProviderError``: this provider refused before calling Meta (configuration, preflight) or
  reports the outcome of a failed plan (``failures.ConvergeFailed``).

Callers branch on these types, never on message text. Every Graph error keeps Meta's code,
subcode and fbtrace_id, because Meta support asks for them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .redact import redact


class WhatsAppError(Exception):
    """Base class of everything this package raises. ``str()`` is always redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- Graph API errors ------------------------------------------------------------------------


class GraphAPIError(WhatsAppError):
    """An error answer from the Graph API, or a failure to get any answer."""

    codes: ClassVar[tuple[int, ...]] = ()
    summary: ClassVar[str] = "the Graph API returned an error"
    fix: ClassVar[str] = ""
    # Why a person must not simply re-run after this error ("" when re-running is fine).
    do_not_rerun: ClassVar[str] = ""

    def __init__(
        self,
        graph_message: str = "",
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        details: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.graph_message = redact(graph_message)
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.details = redact(details) if details else None
        self.error_type = error_type
        self.retry_after = retry_after
        self.method = method
        self.path = path
        super().__init__(self._render())

    @property
    def reference(self) -> str:
        """`Graph error 133005/2388001, HTTP 400, fbtrace_id AbC`: what Meta support asks for."""
        parts = []
        if self.code is not None:
            parts.append(f"Graph error {self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id {self.fbtrace_id}")
        return ", ".join(parts)

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        text = f"{where}{self.summary}"
        said = self.details or self.graph_message
        if said:
            text += f": {said}"
        if self.reference:
            text += f" ({self.reference})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class TransientError(GraphAPIError):
    """Retrying may succeed: Meta is overloaded, rate limiting, or the network failed."""

    summary = "temporary Graph API failure"


class UserActionRequired(GraphAPIError):
    """A person must act (token, permission, PIN, verification, lockout); never retried."""

    summary = "the Graph API refused the call"


class FatalError(GraphAPIError):
    """The request is wrong or its object does not exist; never retried."""

    summary = "the Graph API rejected the request"


class UnknownGraphError(TransientError):
    codes = (1,)
    summary = "unknown Graph API error"


class ServiceOverloaded(TransientError):
    codes = (2,)
    summary = "Graph API service overloaded"


class RateLimited(TransientError):
    codes = (4, 17, 341, 80007, 130429)
    summary = "rate limited by Meta"


class ServiceUnavailable(TransientError):
    codes = (131000, 131016)
    summary = "WhatsApp service unavailable"


class AccountInMaintenance(TransientError):
    codes = (131057,)
    summary = "the WhatsApp Business Account is in maintenance mode"


class ServerTemporarilyUnavailable(TransientError):
    codes = (133004,)
    summary = "WhatsApp server temporarily unavailable"


class ServerError(TransientError):
    summary = "Graph API server error"


class NetworkError(TransientError):
    """No answer: connection refused or dropped. For a mutating call the outcome is unknown."""

    summary = "no answer from the Graph API (connection failed or dropped)"
    fix = ("check whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL), the network, and any "
           "HTTPS_PROXY / NO_PROXY settings")


class RequestTimeout(NetworkError):
    """The call timed out. For a mutating call the outcome is unknown: read before deciding."""

    summary = "the Graph API did not answer in time"


class AuthenticationFailed(UserActionRequired):
    codes = (0, 190)
    summary = "the access token was rejected"
    fix = "set a valid token in whatsapp:accessToken (secret) or WHATSAPP_ACCESS_TOKEN"


class PermissionDenied(UserActionRequired):
    codes = (10, *range(200, 300))
    summary = "the token lacks a permission"
    fix = "grant the system user whatsapp_business_management on the number's business account"


class AccessDenied(UserActionRequired):
    codes = (131005,)
    summary = "access denied"
    fix = "check the token's permissions on this number"


class PolicyBlocked(UserActionRequired):
    codes = (368,)
    summary = "temporarily blocked by Meta for policy violations"
    fix = "resolve the policy issue in WhatsApp Manager, then try again"


class DeregistrationIncomplete(UserActionRequired):
    codes = (133000,)
    summary = "a previous deregistration is incomplete"
    fix = "deregister the number again, then register it"


class PinMismatch(UserActionRequired):
    codes = (133005,)
    summary = "two-step verification PIN mismatch"
    fix = (
        "declare the number's current two-step PIN in its `pin` (or reset the PIN in WhatsApp "
        "Manager); each failed attempt uses a PIN guess and the 72-hour register budget"
    )
    do_not_rerun = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks "
                    "the number for 72 hours after 10 calls")


class NotVerified(UserActionRequired):
    codes = (133006,)
    summary = "the number must be verified before it can register"
    fix = "run `python -m provider verify --phone-number-id <id>`"


class TooManyPinAttempts(UserActionRequired):
    codes = (133008,)
    summary = "too many two-step PIN guesses"
    fix = "wait for the time Meta states, then fix the PIN before trying again"
    do_not_rerun = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks "
                    "the number for 72 hours after 10 calls")


class PinGuessesTooFast(UserActionRequired):
    codes = (133009,)
    summary = "two-step PIN guessed too fast"
    fix = "wait for the time Meta states, then fix the PIN before trying again"
    do_not_rerun = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks "
                    "the number for 72 hours after 10 calls")


class NumberNotRegistered(UserActionRequired):
    codes = (133010,)
    summary = "the number is not registered"


class RecentlyDeleted(UserActionRequired):
    codes = (133015,)
    summary = "the number was deleted recently"
    fix = "wait 5 minutes before registering it again"


class RegistrationLimitReached(UserActionRequired):
    codes = (133016,)
    summary = "register/deregister limit reached: Meta blocks the number for 72 hours"
    fix = "wait 72 hours; every further attempt extends nothing but the outage"
    do_not_rerun = ("Meta has blocked register and deregister for this number for 72 hours, and an attempt "
                    "cannot shorten that")


class RequestCodeFailed(UserActionRequired):
    codes = (136024,)
    summary = "requesting a verification code failed"


class InvalidParameter(FatalError):
    codes = (100,)
    summary = "invalid or unsupported parameter"


class ObjectNotFound(FatalError):
    """100/33: the object does not exist, or the token cannot see it (Meta cannot tell which)."""

    summary = "object not found (deleted, or the token lacks permission to see it)"


class ParameterMissing(FatalError):
    codes = (131008,)
    summary = "required parameter missing"


class ParameterValueInvalid(FatalError):
    codes = (131009,)
    summary = "parameter value is not valid"


class UnclassifiedError(FatalError):
    summary = "Graph API error"


def _leaf_classes(cls: type[GraphAPIError]) -> list[type[GraphAPIError]]:
    found: list[type[GraphAPIError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_leaf_classes(sub))
    return found


ERRORS_BY_CODE: dict[int, type[GraphAPIError]] = {
    code: cls for cls in _leaf_classes(GraphAPIError) for code in cls.codes
}

# Codes whose failure means retrying the same request cannot help, even under a 5xx status.
PIN_AND_LOCKOUT_CODES = frozenset({133005, 133008, 133009, 133016})


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def error_from_response(
    status: int,
    body: Any,
    *,
    method: str = "",
    path: str = "",
    retry_after: float | None = None,
) -> GraphAPIError:
    """Turn an HTTP error answer into the typed error for Meta's code (the choke point)."""
    envelope = body.get("error") if isinstance(body, dict) else None
    if not isinstance(envelope, dict):
        cls: type[GraphAPIError] = ServerError if status >= 500 else UnclassifiedError
        text = "" if body is None else str(body)[:200]
        return cls(text, http_status=status, method=method, path=path, retry_after=retry_after)
    code = _as_int(envelope.get("code"))
    subcode = _as_int(envelope.get("error_subcode"))
    data = envelope.get("error_data")
    details = data.get("details") if isinstance(data, dict) else (data if isinstance(data, str) else None)
    if code == 100 and subcode == 33:
        cls = ObjectNotFound
    elif code is not None and code in ERRORS_BY_CODE:
        cls = ERRORS_BY_CODE[code]
    elif envelope.get("is_transient") or status >= 500:
        cls = ServerError
    else:
        cls = UnclassifiedError
    return cls(
        str(envelope.get("message") or ""),
        code=code,
        subcode=subcode,
        http_status=status,
        fbtrace_id=envelope.get("fbtrace_id"),
        details=details,
        error_type=envelope.get("type"),
        retry_after=retry_after,
        method=method,
        path=path,
    )


# --- this provider's own errors --------------------------------------------------------------


class ProviderError(WhatsAppError):
    """Raised by this provider itself: nothing was sent to Meta unless the text says so."""


class ConfigurationError(ProviderError):
    """Stack configuration or environment is missing or malformed."""


class PreflightError(ProviderError):
    """A plan was refused before its first mutating call: zero calls were made."""

    def __init__(self, number_id: str, problems: list) -> None:
        self.number_id = number_id
        self.problems = list(problems)
        lines = "; ".join(map(str, problems))
        super().__init__(f"whatsapp {number_id}: refused before any change (no call was made): {lines}")


class RetryRefused(PreflightError):
    """An earlier attempt for this number in this process failed in a way that another attempt
    cannot fix (a PIN or lockout refusal, or a failed cutover): refused before any call."""


class TokenRejectedFromState(ProviderError):
    """The token refresh or destroy used was rejected: it came from the configuration saved by the
    last ``pulumi up``, not from the current stack config."""


class NumberNotVisible(ProviderError):
    """100/33 on a number that its business account does not confirm as deleted."""
