"""Every error this package raises, as types: the tree, and nothing else.

The top of the hierarchy says what to do next (kopf's PermanentError/TemporaryError idea):
``TransientError`` (retrying may succeed: bounded backoff, honouring Retry-After),
``UserActionRequired`` (a person must fix something first; never retried), ``FatalError`` (the
request itself is wrong; never retried), ``ProviderError`` (this provider refused before calling
Meta, or reports the outcome of a failed plan). Callers branch on these types, never on message
text. Every Graph error keeps Meta's code, subcode and fbtrace_id, because Meta support asks for
them. What an error says (summary, fix, why not to re-run) is prose in ``wording.py``, as HTTPX
keeps it out of ``_exceptions.py``; Meta's answers become these types in ``answers.py`` only.
The tree (as HTTPX draws its own); every class is defined here except ``ConvergeFailed``
(``provider/failures.py``, which owns the failure tables it renders)::

    WhatsAppError                       str() is always redacted
    ├── GraphAPIError                   Meta answered with an error, or gave no answer
    │   ├── TransientError              UnknownGraphError, ServiceOverloaded, RateLimited,
    │   │   │                           ServiceUnavailable, AccountInMaintenance,
    │   │   │                           ServerTemporarilyUnavailable, ServerError
    │   │   └── NetworkError            no answer; ``reason`` is the JSON field the CLI prints
    │   │       ├── ConnectError            "refused"       (unreachable)
    │   │       │   ├── DNSError            "dns"           (unreachable)
    │   │       │   └── TLSError            "tls"           (unreachable)
    │   │       ├── ProxyError              "proxy"         (unreachable)
    │   │       │   └── ProxyAuthRequired   "proxy_auth"    (unreachable)
    │   │       ├── RequestTimeout          "timeout"       (alias Timeout; a mutation's outcome is unknown)
    │   │       ├── ConnectionDropped       "dropped"
    │   │       ├── ForeignHostRefused      "foreign_host"  (a paging URL on another host: not followed)
    │   │       ├── RedirectRefused         "redirect"      (a 3xx: not followed, not retried)
    │   │       ├── PagingLoop              "paging_loop"   (paging.next back to a page already read)
    │   │       └── PagingLimit             "paging_limit"  (more pages than the client reads)
    │   ├── UserActionRequired          AuthenticationFailed, AppSecretProofRejected, CapabilityMissing,
    │   │                               PermissionDenied, AccessDenied, PolicyBlocked,
    │   │                               DeregistrationIncomplete, PinMismatch, AccountLocked, NotVerified,
    │   │                               TooManyPinAttempts, PinGuessesTooFast, NumberNotRegistered,
    │   │                               RecentlyDeleted, RegistrationLimitReached, RequestCodeFailed
    │   └── FatalError                  InvalidParameter, ObjectNotFound (NumberDeleted),
    │                                   UnconfirmedMissingObject, ParameterMissing,
    │                                   ParameterValueInvalid, UnclassifiedError
    └── ProviderError                   this provider's own refusals and reports
        ├── ConfigurationError          stack config or environment missing or malformed
        │   ├── PolicyError             allowedRegions malformed
        │   ├── WindowError             cutoverWindows or cutoverBlackouts malformed
        │   ├── StackFileError          project, stack or --state file missing or malformed (CLI: a usage error)
        │   └── InvalidRegion           also a ValueError: not a region code nor DEFAULT
        ├── UsageError                  bad command-line arguments (CLI: a usage error)
        ├── PreflightError              refused before the first mutating call
        │   └── RetryRefused            an earlier attempt in this process cannot be retried
        ├── ConvergeFailed              (failures.py) a plan failed part-way, as data
        ├── ReadBackMismatch            every call succeeded, yet the number reads back otherwise
        ├── TokenRejectedFromState      refresh/destroy used the configuration saved by the last up
        ├── NumberNotVisible            100/33 the business account does not confirm as deleted
        ├── AccountNotVisible           import: a --waba-id the token cannot list
        └── GraphUnreachable            CLI: no read got an answer (said once, not per number)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

if TYPE_CHECKING:
    import argparse

from . import escape, wording
from .redact import redact

# Kept importable from here for its callers (resource.py, cli/report.py); the sentence is wording's.
from .wording import cannot_see

__all__ = [
    "AccessDenied", "AccountLocked", "AccountInMaintenance", "AccountNotVisible", "AppSecretProofRejected",
    "AuthenticationFailed", "cannot_see", "CapabilityMissing", "ConfigurationError", "ConnectError",
    "ConnectionDropped", "DeregistrationIncomplete", "DNSError", "ERRORS_BY_CODE",
    "FatalError", "ForeignHostRefused", "PagingLimit", "PagingLoop", "RedirectRefused", "GraphAPIError",
    "GraphUnreachable", "InvalidParameter", "InvalidRegion", "NETWORK_ERRORS_BY_REASON", "NetworkError",
    "NotVerified", "NumberDeleted", "NumberNotRegistered", "NumberNotVisible", "ObjectNotFound", "ParameterMissing",
    "ParameterValueInvalid", "PermissionDenied", "PinGuessesTooFast", "PinMismatch", "PolicyBlocked", "PolicyError",
    "PreflightError", "ProviderError", "ProxyAuthRequired", "ProxyError", "RateLimited", "RecentlyDeleted",
    "RegistrationLimitReached", "RequestCodeFailed", "RequestTimeout", "ReadBackMismatch", "RetryRefused",
    "ServerError", "ServerTemporarilyUnavailable", "ServiceOverloaded", "ServiceUnavailable", "StackFileError",
    "Timeout", "TLSError", "TokenRejectedFromState", "TooManyPinAttempts", "TransientError", "UnclassifiedError",
    "UnconfirmedMissingObject", "UnknownGraphError", "UNREACHABLE_REASONS", "UsageError", "UserActionRequired",
    "WhatsAppError", "WindowError"
]


class WhatsAppError(Exception):
    """Base class of everything this package raises. ``str()`` is always redacted, and safe in a CI
    log (Pulumi prints a provider's error as it is): no ``##[`` or line-start ``::`` workflow command."""

    def __init__(self, message: str) -> None:
        super().__init__(escape.log(redact(message)))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- Graph API errors ----------------------------------------------------------------------------


class GraphAPIError(WhatsAppError):
    """An error answer from the Graph API, or a failure to get any answer.

    A subclass says which of Meta's codes mean it and what it says, as class keywords:
    ``class PinMismatch(UserActionRequired, codes=(133005,), text=wording.PIN_MISMATCH)``.
    """

    codes: ClassVar[tuple[int, ...]] = ()  # Meta's error codes that mean this class (ERRORS_BY_CODE)
    summary: str  # what happened (wording.Text)
    fix: str  # what to do; an instance's may add what its caller knows (where the token came from)
    do_not_rerun: ClassVar[str]  # why a person must not simply re-run ("": re-running after a fix is fine)
    summary, fix, do_not_rerun = wording.GRAPH_API_ERROR

    def __init_subclass__(cls, *, codes: tuple[int, ...] = (), text: wording.Text | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.codes = codes
        if text is not None:
            cls.summary, cls.fix, cls.do_not_rerun = text

    def __init__(self, graph_message: str = "", *, code: int | None = None, subcode: int | None = None,
                 http_status: int | None = None, fbtrace_id: str | None = None, details: str | None = None,
                 error_type: str | None = None, retry_after: float | None = None, method: str = "", path: str = "",
                 fix: str | None = None) -> None:
        self.graph_message = redact(graph_message)
        self.code, self.subcode, self.http_status, self.fbtrace_id = code, subcode, http_status, fbtrace_id
        self.details = redact(details) if details else None
        self.error_type = error_type
        self.retry_after = retry_after
        self.retry_at = time.time() + retry_after if retry_after else None
        self.method, self.path = method, path
        if fix is not None:
            self.fix = fix
        super().__init__(wording.graph_error(self))

    @property
    def reference(self) -> str:
        """`Graph error 133005/2388001, HTTP 400, fbtrace_id AbC`: what Meta support asks for."""
        return wording.reference(self.code, self.subcode, self.http_status, self.fbtrace_id)


class TransientError(GraphAPIError, text=wording.TRANSIENT_ERROR):
    """Retrying may succeed: Meta is overloaded, rate limiting, or the network failed."""

class UserActionRequired(GraphAPIError, text=wording.USER_ACTION_REQUIRED):
    """A person must act (token, permission, PIN, verification, lockout); never retried."""

class FatalError(GraphAPIError, text=wording.FATAL_ERROR):
    """The request is wrong or its object does not exist; never retried."""


# --- retrying may succeed ------------------------------------------------------------------------


class UnknownGraphError(TransientError, codes=(1,), text=wording.UNKNOWN_GRAPH_ERROR):
    """Code 1: Meta does not know what went wrong either."""

class ServiceOverloaded(TransientError, codes=(2,), text=wording.SERVICE_OVERLOADED):
    """Code 2: the Graph API is overloaded."""

class RateLimited(TransientError, codes=(4, 17, 32, 341, 613, 80007, 80008, 130429), text=wording.RATE_LIMITED):
    """Throttled (80008 business use case, 613 call rate, 32 page level, ...): reads wait as Meta says."""

class ServiceUnavailable(TransientError, codes=(131000, 131016), text=wording.SERVICE_UNAVAILABLE):
    """WhatsApp's service is down for a moment."""

class AccountInMaintenance(TransientError, codes=(131057,), text=wording.ACCOUNT_IN_MAINTENANCE):
    """The business account is in maintenance mode."""

class ServerTemporarilyUnavailable(TransientError, codes=(133004,), text=wording.SERVER_TEMPORARILY_UNAVAILABLE):
    """133004: a WhatsApp server is unavailable for a moment."""

class ServerError(TransientError, text=wording.SERVER_ERROR):
    """HTTP 5xx, or an answer Meta marks ``is_transient``, without a code of its own here."""


# --- no answer -----------------------------------------------------------------------------------


class NetworkError(TransientError, text=wording.NETWORK_ERROR):
    """No answer. For a mutating call the outcome is unknown.

    One subclass per way of getting no answer (HTTPX's ConnectError/ProxyError/ConnectTimeout are
    the model), raised directly by the client's one choke point. Each declares ``reason``, the
    machine-readable kind the CLI's JSON prints, as a class keyword: a subclass that names none
    cannot be defined. ``unreachable``: nothing reached Meta, so the same failure will hit every
    number and is said once, not per number.
    """

    reason: ClassVar[str]
    unreachable: ClassVar[bool] = False

    def __init_subclass__(cls, *, reason: str, unreachable: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.reason = reason
        if unreachable is not None:
            cls.unreachable = unreachable

    def __init__(self, message: str, *, method: str, path: str, http_status: int | None = None,
                 loopback: bool = False) -> None:
        """``loopback``: the call went to a loopback address (the emulator), which is never reached
        through a proxy, so the fix names the emulator instead of proxy settings."""
        super().__init__(message, http_status=http_status, method=method, path=path,
                         fix=wording.LOOPBACK_FIXES.get(self.reason) if loopback else None)


class ConnectError(NetworkError, reason="refused", unreachable=True, text=wording.CONNECT_ERROR):
    """The connection was refused."""

class DNSError(ConnectError, reason="dns", text=wording.DNS_ERROR):
    """The Graph host's name does not resolve."""

class TLSError(ConnectError, reason="tls", text=wording.TLS_ERROR):
    """The Graph host's certificate failed verification (a TLS-inspecting proxy, usually)."""

class ProxyError(NetworkError, reason="proxy", unreachable=True, text=wording.PROXY_ERROR):
    """The proxy in HTTPS_PROXY failed."""

class ProxyAuthRequired(ProxyError, reason="proxy_auth", text=wording.PROXY_AUTH_REQUIRED):
    """The proxy answered 407."""

class RequestTimeout(NetworkError, reason="timeout", text=wording.REQUEST_TIMEOUT):
    """The call timed out. For a mutating call the outcome is unknown: read before deciding."""

class ConnectionDropped(NetworkError, reason="dropped", text=wording.CONNECTION_DROPPED):
    """The connection dropped before an answer."""

class ForeignHostRefused(NetworkError, reason="foreign_host", text=wording.FOREIGN_HOST_REFUSED):
    """A paging URL points at another host: not followed, the token goes only to the configured one."""

class RedirectRefused(NetworkError, reason="redirect", text=wording.REDIRECT_REFUSED):
    """A 3xx answer. Never followed: requests would re-send the token (and a 307 the PIN) to a host
    the URL guard never checked. Not retried either: the same URL redirects again."""

class PagingLoop(NetworkError, reason="paging_loop", text=wording.PAGING_LOOP):
    """``paging.next`` points back at a page already read: the listing cannot be read completely."""

class PagingLimit(NetworkError, reason="paging_limit", text=wording.PAGING_LIMIT):
    """More pages than the client reads: the listing cannot be read completely."""


Timeout = RequestTimeout  # HTTPX's name


# --- a person must act ---------------------------------------------------------------------------


class AuthenticationFailed(UserActionRequired, codes=(0, 190), text=wording.AUTHENTICATION_FAILED):
    """The client adds where the token came from to ``fix`` (ProviderConfig.token_hint)."""

class AppSecretProofRejected(UserActionRequired, text=wording.APP_SECRET_PROOF_REJECTED):
    """The app has "Require App Secret" on; the call's ``appsecret_proof`` is missing or wrong (100, by message)."""

class CapabilityMissing(UserActionRequired, codes=(3,), text=wording.CAPABILITY_MISSING):
    """Code 3, served as HTTP 500 although retrying cannot help."""

class PermissionDenied(UserActionRequired, codes=(10, *range(200, 300)), text=wording.PERMISSION_DENIED):
    """10, 200-299: the token lacks a permission."""

class AccessDenied(UserActionRequired, codes=(131005,), text=wording.ACCESS_DENIED):
    """131005: the token may not act on this number."""

class PolicyBlocked(UserActionRequired, codes=(368,), text=wording.POLICY_BLOCKED):
    """368: Meta blocks the account for policy violations, for a while."""

class DeregistrationIncomplete(UserActionRequired, codes=(133000,), text=wording.DEREGISTRATION_INCOMPLETE):
    """133000: the runner deregisters once more and registers (once)."""

class PinMismatch(UserActionRequired, codes=(133005,), text=wording.PIN_MISMATCH):
    """133005: the declared two-step PIN is not the number's; each attempt spends a guess."""

class AccountLocked(UserActionRequired, codes=(131031,), text=wording.ACCOUNT_LOCKED):
    """131031: Meta locked the business account; among its reasons, a wrong two-step PIN."""

class NotVerified(UserActionRequired, codes=(133006,), text=wording.NOT_VERIFIED):
    """133006: the number must be verified before it can register."""

class TooManyPinAttempts(UserActionRequired, codes=(133008,), text=wording.TOO_MANY_PIN_ATTEMPTS):
    """133008: too many two-step PIN guesses."""

class PinGuessesTooFast(UserActionRequired, codes=(133009,), text=wording.PIN_GUESSES_TOO_FAST):
    """133009: two-step PIN guesses too close together."""

class NumberNotRegistered(UserActionRequired, codes=(133010,), text=wording.NUMBER_NOT_REGISTERED):
    """133010: someone deregistered the number meanwhile."""

class RecentlyDeleted(UserActionRequired, codes=(133015,), text=wording.RECENTLY_DELETED):
    """133015: registering again must wait a few minutes."""

class RegistrationLimitReached(UserActionRequired, codes=(133016,), text=wording.REGISTRATION_LIMIT_REACHED):
    """133016: Meta blocks register and deregister for 72 hours."""

class RequestCodeFailed(UserActionRequired, codes=(136024,), text=wording.REQUEST_CODE_FAILED):
    """136024: Meta would not send a verification code."""


# --- the request is wrong ------------------------------------------------------------------------


class InvalidParameter(FatalError, codes=(100,), text=wording.INVALID_PARAMETER):
    """100: an invalid or unsupported parameter (also a field Meta does not know)."""

class ObjectNotFound(FatalError, text=wording.OBJECT_NOT_FOUND):
    """100/33: the object does not exist, or the token cannot see it (Meta cannot tell which)."""

class NumberDeleted(ObjectNotFound, codes=(33,), text=wording.NUMBER_DELETED):
    """Code 33. An ObjectNotFound, so that callers apply the same rule before treating the number as
    gone: its business account must confirm that it no longer lists it."""

class UnconfirmedMissingObject(FatalError, text=wording.UNCONFIRMED_MISSING_OBJECT):
    """Code 33 without Meta's subcode 33: reported, never taken as proof that the number is gone."""

class ParameterMissing(FatalError, codes=(131008,), text=wording.PARAMETER_MISSING):
    """131008: a required parameter is missing."""

class ParameterValueInvalid(FatalError, codes=(131009,), text=wording.PARAMETER_VALUE_INVALID):
    """131009: a parameter's value is not valid."""

class UnclassifiedError(FatalError, text=wording.UNCLASSIFIED_ERROR):
    """An error answer that no class here claims."""


def _subclasses(cls: type[GraphAPIError]) -> list[type[GraphAPIError]]:
    """Every class below ``cls``, at any depth."""
    found: list[type[GraphAPIError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


# The tree as lookup tables: Meta's code -> class (answers.error_class), reason -> class (the client).
ERRORS_BY_CODE: dict[int, type[GraphAPIError]] = {code: cls for cls in _subclasses(GraphAPIError) for code in cls.codes}
NETWORK_ERRORS_BY_REASON: dict[str, type[NetworkError]] = {
    cls.reason: cls for cls in _subclasses(NetworkError) if issubclass(cls, NetworkError)
}
UNREACHABLE_REASONS = frozenset(reason for reason, cls in NETWORK_ERRORS_BY_REASON.items() if cls.unreachable)


# --- this provider's own errors ------------------------------------------------------------------


class ProviderError(WhatsAppError):
    """Raised by this provider itself: nothing was sent to Meta unless the text says so."""

class ConfigurationError(ProviderError):
    """Stack configuration or environment is missing or malformed."""

class PolicyError(ConfigurationError):
    """``allowedRegions`` is malformed: refused before any call."""

class WindowError(ConfigurationError):
    """A change window (``cutoverWindows``) or blackout (``cutoverBlackouts``) is malformed: refused before any call."""

class StackFileError(ConfigurationError):
    """The project or stack file (or a ``--state`` file) is missing or malformed: a usage error."""

class InvalidRegion(ConfigurationError, ValueError):
    """A declared region that is not a supported code nor DEFAULT."""


class UsageError(ProviderError):
    """Bad command-line arguments. Raised instead of argparse's exit, so a JSON run can still
    answer in JSON; ``parser`` is the (sub)command's, to print its usage."""

    def __init__(self, parser: "argparse.ArgumentParser", message: str) -> None:
        super().__init__(message)
        self.parser = parser


class PreflightError(ProviderError):
    """A plan was refused before its first mutating call: zero calls were made."""

    def __init__(self, number_id: str, problems: Sequence[object]) -> None:
        self.number_id = number_id
        self.problems = list(problems)
        super().__init__(wording.refused_before_any_call(number_id, problems))


class ReadBackMismatch(ProviderError):
    """Meta accepted every planned call, yet the number reads back in another state than declared
    (not registered, or another storage): the change did not take effect as planned. Reported as a
    failed converge (the ``readback_mismatch`` row of ``failures.PHONE_NUMBER_STORAGE``), never as
    success, and not retried by this process: each attempt would be another cutover and spend the
    72-hour register budget on the same surprise."""

    do_not_rerun: ClassVar[str] = wording.READ_BACK_MISMATCH_DO_NOT_RERUN

    def __init__(self, *, registered: bool, storage: str | None) -> None:
        self.registered, self.storage = registered, storage
        super().__init__(wording.reads_back(registered, storage))


class RetryRefused(PreflightError):
    """An earlier attempt for this number in this process failed in a way that another attempt
    cannot fix (a PIN or lockout refusal, or a failed cutover): refused before any call."""

class TokenRejectedFromState(ProviderError):
    """The token refresh or destroy used was rejected: it came from the configuration saved by the
    last ``pulumi up``, not from the current stack config."""

class NumberNotVisible(ProviderError):
    """100/33 on a number that its business account does not confirm as deleted."""

class AccountNotVisible(ProviderError):
    """A ``--waba-id`` that the token cannot list: unknown, or missing whatsapp_business_management."""


class GraphUnreachable(ProviderError):
    """Every read failed at the connection level: one run-level error instead of one per number."""

    def __init__(self, url: str, cause: NetworkError, failed: int, total: int) -> None:
        self.cause = cause
        super().__init__(wording.unreachable(url, cause, failed, total))
