"""Every error this package raises, and the one place Graph API answers become typed errors.

The top of the hierarchy says what to do next (kopf's PermanentError/TemporaryError idea):
``TransientError`` (retrying may succeed: bounded backoff, honouring Retry-After),
``UserActionRequired`` (a person must fix something first; never retried), ``FatalError`` (the
request itself is wrong; never retried), ``ProviderError`` (this provider refused before calling
Meta, or reports the outcome of a failed plan). Callers branch on these types, never on message
text. Every Graph error keeps Meta's code, subcode and fbtrace_id, because Meta support asks for
them. The tree (as HTTPX draws its own); every class is defined here except ``ConvergeFailed``
(``provider/failures.py``, which owns the failure table it renders)::

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
        │   ├── StackFileError          project, stack or --state file missing or malformed (CLI: exit 2)
        │   └── InvalidRegion           also a ValueError: not a region code nor DEFAULT
        ├── UsageError                  bad command-line arguments (CLI: exit 2)
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

import re
import time
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

if TYPE_CHECKING:
    import argparse

from .redact import redact


__all__ = [
    "AccessDenied",
    "AccountLocked",
    "AccountInMaintenance",
    "AccountNotVisible",
    "AppSecretProofRejected",
    "AuthenticationFailed",
    "cannot_see",
    "CapabilityMissing",
    "ConfigurationError",
    "ConnectError",
    "ConnectionDropped",
    "DeregistrationIncomplete",
    "DNSError",
    "error_from_response",
    "ERRORS_BY_CODE",
    "FatalError",
    "ForeignHostRefused",
    "PagingLimit",
    "PagingLoop",
    "RedirectRefused",
    "GraphAPIError",
    "GraphUnreachable",
    "InvalidParameter",
    "InvalidRegion",
    "NETWORK_ERRORS_BY_REASON",
    "NetworkError",
    "NotVerified",
    "NumberDeleted",
    "NumberNotRegistered",
    "NumberNotVisible",
    "ObjectNotFound",
    "ParameterMissing",
    "ParameterValueInvalid",
    "PermissionDenied",
    "PinGuessesTooFast",
    "PinMismatch",
    "PolicyBlocked",
    "PolicyError",
    "PreflightError",
    "ProviderError",
    "ProxyAuthRequired",
    "ProxyError",
    "RateLimited",
    "RecentlyDeleted",
    "RegistrationLimitReached",
    "RequestCodeFailed",
    "RequestTimeout",
    "ReadBackMismatch",
    "RetryRefused",
    "ServerError",
    "ServerTemporarilyUnavailable",
    "ServiceOverloaded",
    "ServiceUnavailable",
    "StackFileError",
    "Timeout",
    "TLSError",
    "TokenRejectedFromState",
    "TooManyPinAttempts",
    "TransientError",
    "UnclassifiedError",
    "UnconfirmedMissingObject",
    "UnknownGraphError",
    "UNREACHABLE_REASONS",
    "UsageError",
    "UserActionRequired",
    "WhatsAppError",
    "WindowError",
]


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
    summary: str = "the Graph API returned an error"  # a class's default; an instance may say more
    fix: str = ""
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
        fix: str | None = None,
    ) -> None:
        self.graph_message = redact(graph_message)
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.details = redact(details) if details else None
        self.error_type = error_type
        self.retry_after = retry_after
        # Wall-clock time in the text: a person reading it later cannot know when "Retry-After: 900" came.
        self.retry_at = time.time() + retry_after if retry_after else None
        self.method = method
        self.path = path
        if fix is not None:
            self.fix = fix  # this instance's fix (e.g. for where the token came from) beats the class's
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
        if self.retry_at is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.retry_at))
            text += f"; Meta accepts calls again at {when}"
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
    """Throttled (80008 business use case, 613 call rate, 32 page level, ...): reads wait as Meta says."""

    codes = (4, 17, 32, 341, 613, 80007, 80008, 130429)
    summary = "rate limited by Meta"
    fix = "wait until the time stated, or spread the work over several runs (fewer numbers per run)"


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
    """No answer. For a mutating call the outcome is unknown.

    The subclasses say why (HTTPX's ConnectError/ProxyError/ConnectTimeout are the model); each
    has a ``reason``, the machine-readable kind the CLI's JSON prints. ``NetworkError(...,
    reason="dns")`` builds the subclass for that reason, so a classifier can stay a table of
    strings. ``unreachable``: nothing reached Meta, so the same failure will hit every number
    and is said once, not per number.
    """

    reason: str = "dropped"
    summary = "no answer from the Graph API (connection failed or dropped)"
    fix = ("check whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL), the network, and any "
           "HTTPS_PROXY / NO_PROXY settings")
    unreachable: ClassVar[bool] = False

    def __new__(cls, *args: Any, reason: str | None = None, **kw: Any) -> "NetworkError":
        if reason is not None and cls is NetworkError:
            cls = NETWORK_ERRORS_BY_REASON.get(reason, cls)
        return super().__new__(cls, *args)

    def __init__(self, graph_message: str = "", *, reason: str | None = None, **kw: Any) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(graph_message, **kw)


class ConnectError(NetworkError):
    reason = "refused"
    summary = "the Graph host cannot be reached: connection refused"
    fix = ("check the host and port in whatsapp:graphApiUrl (is the emulator running?) and any HTTPS_PROXY / "
           "NO_PROXY settings")
    unreachable = True


class DNSError(ConnectError):
    reason = "dns"
    summary = "the Graph host cannot be reached: DNS lookup failed"
    fix = "check the host in whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL) and this machine's DNS"


class TLSError(ConnectError):
    reason = "tls"
    summary = "the Graph host cannot be reached: TLS certificate verification failed"
    fix = ("behind a TLS-inspecting proxy, point REQUESTS_CA_BUNDLE at its CA certificate; never turn "
           "verification off")


class ProxyError(NetworkError):
    reason = "proxy"
    summary = "the Graph host cannot be reached: the proxy failed"
    fix = "check HTTPS_PROXY / NO_PROXY and the proxy"
    unreachable = True


class ProxyAuthRequired(ProxyError):
    reason = "proxy_auth"
    summary = "the Graph host cannot be reached: the proxy requires authentication (HTTP 407)"
    fix = "put the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port)"


class RequestTimeout(NetworkError):
    """The call timed out. For a mutating call the outcome is unknown: read before deciding."""

    reason = "timeout"
    summary = "the Graph API did not answer in time"
    fix = "check the network and any proxy; a mutating call may still have taken effect"


Timeout = RequestTimeout  # HTTPX's name


class ConnectionDropped(NetworkError):
    reason = "dropped"
    summary = "the connection to the Graph API dropped"


class ForeignHostRefused(NetworkError):
    """A paging URL points at another host: not followed, the token goes only to the configured one."""

    reason = "foreign_host"
    summary = "not followed: the token goes only to the configured Graph host"
    fix = "report the paging URL Meta returned; nothing was sent to that host"


class RedirectRefused(NetworkError):
    """A 3xx answer. Never followed: requests would re-send the token (and a 307 the PIN) to a host
    the URL guard never checked. Not retried either: the same URL redirects again."""

    reason = "redirect"
    summary = ("the Graph API answered with a redirect, which is not followed: the token, app secret proof and "
               "PIN go only to the host checked in whatsapp:graphApiUrl")
    fix = ("point whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL) at the final address itself, if it is one the "
           "token may go to")


class PagingLoop(NetworkError):
    """``paging.next`` points back at a page already read: the listing cannot be read completely."""

    reason = "paging_loop"
    summary = "the listing's paging.next points back at a page already read, so the listing cannot be read completely"
    fix = "try again later; if it persists, report the paging URLs to Meta"


class PagingLimit(NetworkError):
    reason = "paging_limit"
    summary = "the listing has more pages than this client reads (1000), so it was not read completely"
    fix = "report it: no business account has that many phone numbers"


NETWORK_ERRORS_BY_REASON: dict[str, type[NetworkError]] = {
    cls.reason: cls for cls in (ConnectError, DNSError, TLSError, ProxyError, ProxyAuthRequired, RequestTimeout,
                                ConnectionDropped, ForeignHostRefused, RedirectRefused, PagingLoop, PagingLimit)
}
UNREACHABLE_REASONS = frozenset(reason for reason, cls in NETWORK_ERRORS_BY_REASON.items() if cls.unreachable)


class AuthenticationFailed(UserActionRequired):
    """The client adds where the token came from to ``fix`` (ProviderConfig.token_hint)."""

    codes = (0, 190)
    summary = "the access token was rejected"
    fix = "set a valid token in whatsapp:accessToken (secret) or WHATSAPP_ACCESS_TOKEN"


class AppSecretProofRejected(UserActionRequired):
    """The app has "Require App Secret" on; the call's ``appsecret_proof`` is missing or wrong (100, by message)."""

    summary = "Meta requires a valid appsecret_proof for this app (Require App Secret)"
    fix = ("set the app's secret as whatsapp:appSecret (pulumi config set --secret whatsapp:appSecret) "
           "or WHATSAPP_APP_SECRET; it must belong to the app that issued the access token")


class CapabilityMissing(UserActionRequired):
    """Code 3, served as HTTP 500 although retrying cannot help."""

    codes = (3,)
    summary = "the app lacks the capability or permission for this call"
    fix = ("check that the app has the WhatsApp product and the token whatsapp_business_management "
           "on the number's business account")


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


_PIN_GUESS = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks the number "
              "for 72 hours after 10 calls")


class PinMismatch(UserActionRequired):
    codes = (133005,)
    summary = "two-step verification PIN mismatch"
    fix = (
        "declare the number's current two-step PIN in its `pin` (or reset the PIN in WhatsApp "
        "Manager); each failed attempt uses a PIN guess and the 72-hour register budget"
    )
    do_not_rerun = _PIN_GUESS


class AccountLocked(UserActionRequired):
    """131031: Meta locked the business account; among its reasons, a wrong two-step PIN."""

    codes = (131031,)
    summary = "the business account is locked (for example after a wrong two-step PIN)"
    fix = ("see the account's status in WhatsApp Manager and unlock it there; if a PIN was wrong, declare "
           "the number's current two-step PIN in its `pin`")
    do_not_rerun = ("Meta locked the account, and every further register attempt uses a PIN guess and the "
                    "72-hour register budget without unlocking it")


class NotVerified(UserActionRequired):
    codes = (133006,)
    summary = "the number must be verified before it can register"
    fix = "run `python -m provider verify --phone-number-id <id>`"


class TooManyPinAttempts(UserActionRequired):
    codes = (133008,)
    summary = "too many two-step PIN guesses"
    fix = "wait for the time Meta states, then fix the PIN before trying again"
    do_not_rerun = _PIN_GUESS


class PinGuessesTooFast(UserActionRequired):
    codes = (133009,)
    summary = "two-step PIN guessed too fast"
    fix = "wait for the time Meta states, then fix the PIN before trying again"
    do_not_rerun = _PIN_GUESS


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


class NumberDeleted(ObjectNotFound):
    """Code 33. An ObjectNotFound, so that callers apply the same rule before treating the number as
    gone: its business account must confirm that it no longer lists it."""

    codes = (33,)
    summary = "the business phone number has been deleted"


class UnconfirmedMissingObject(FatalError):
    """Code 33 without Meta's subcode 33: reported, never taken as proof that the number is gone."""

    summary = "Meta says the object is missing, without the subcode that confirms it"
    fix = "check the number in WhatsApp Manager; nothing was marked deleted on this answer"


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

_APPSECRET_PROOF = re.compile(r"(?i)appsecret_proof")


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
    hints: Mapping[type[GraphAPIError], str] | None = None,
) -> GraphAPIError:
    """Turn an HTTP error answer into the typed error for Meta's code (the choke point).

    ``hints`` adds what the caller knows to a class's fix (and its subclasses'), e.g. where the token came from.
    """
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
    elif code == 100 and _APPSECRET_PROOF.search(str(envelope.get("message") or "")):
        # Meta gives no code or subcode of its own for a missing or wrong appsecret_proof
        # (100, GraphMethodException): the message is the only discriminator it offers.
        cls = AppSecretProofRejected
    elif code is not None and code in ERRORS_BY_CODE:
        cls = ERRORS_BY_CODE[code]
        if issubclass(cls, ObjectNotFound) and subcode != 33:
            # `error_subcode` is documented as deprecated: an answer that says "deleted" without
            # Meta's subcode 33 never counts as a confirmed missing object (nothing is dropped from
            # state on it); it stays a plain refusal.
            cls = UnconfirmedMissingObject
    elif envelope.get("is_transient") or status >= 500:
        cls = ServerError
    else:
        cls = UnclassifiedError
    hint = next((text for kind, text in (hints or {}).items() if issubclass(cls, kind) and text), None)
    fix = f"{cls.fix}. {hint}" if hint and cls.fix else hint
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
        fix=fix,
    )


# --- this provider's own errors --------------------------------------------------------------


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
        lines = "; ".join(map(str, problems))
        super().__init__(f"whatsapp {number_id}: refused before any change (no call was made): {lines}")


class ReadBackMismatch(ProviderError):
    """Meta accepted every planned call, yet the number reads back in another state than declared
    (not registered, or another storage): the change did not take effect as planned. Reported as a
    failed converge (``failures.CASES``), never as success, and not retried by this process: each
    attempt would be another cutover and spend the 72-hour register budget on the same surprise."""

    do_not_rerun: ClassVar[str] = (
        "Meta accepted every call but the number did not end up as declared; another attempt is another "
        "cutover (offline again, and more of the 72-hour register budget) with no reason to end otherwise")

    def __init__(self, *, registered: bool, storage: str | None) -> None:
        self.registered, self.storage = registered, storage
        state = "registered" if registered else "NOT registered (offline)"
        super().__init__(f"it reads back {state} with storage {storage or 'unmanaged/unknown'}")


class RetryRefused(PreflightError):
    """An earlier attempt for this number in this process failed in a way that another attempt
    cannot fix (a PIN or lockout refusal, or a failed cutover): refused before any call."""


class TokenRejectedFromState(ProviderError):
    """The token refresh or destroy used was rejected: it came from the configuration saved by the
    last ``pulumi up``, not from the current stack config."""


class NumberNotVisible(ProviderError):
    """100/33 on a number that its business account does not confirm as deleted."""


def cannot_see(number_id: str, exc: GraphAPIError) -> str:
    """The one wording of a number the token cannot see (100/33): Meta cannot tell deleted from hidden."""
    return f"cannot see number {number_id}: deleted, or the token lacks permission to see it ({exc.reference})"


class AccountNotVisible(ProviderError):
    """A ``--waba-id`` that the token cannot list: unknown, or missing whatsapp_business_management."""


class GraphUnreachable(ProviderError):
    """Every read failed at the connection level: one run-level error instead of one per number."""

    def __init__(self, url: str, cause: NetworkError, failed: int, total: int) -> None:
        self.cause = cause
        said = cause.details or cause.graph_message
        untried = f", the other {total - failed} were not tried" if total > failed else ""
        text = (f"cannot reach the Graph API at {url}: {cause.summary}"
                + (f" ({said})" if said else "")
                + f"; no read got an answer ({failed} of {total} numbers failed{untried}), so nothing was compared")
        if cause.fix:
            text += f". Fix: {cause.fix}"
        super().__init__(text)
