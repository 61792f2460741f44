"""What every error says: its summary, its fix, why a person must not simply re-run, and the
helpers that put an error's facts into a sentence.

``errors.py`` holds the types and this module their prose, as HTTPX keeps prose out of
``_exceptions.py``. Each error class takes its texts from the ``Text`` named after it here
(``PinMismatch`` -> ``PIN_MISMATCH``), in the order of the tree drawn in ``errors.py``; the
sentences of a failed converge are rendered by the failure table (``failures.py``).

This module imports nothing of this package, so that ``errors`` can import it (a class's
``summary`` and ``fix`` are class attributes callers read): the helpers take what they need of an
error as a Protocol. That is also why the prose is beside ``failures.py``, not in it: ``failures``
imports ``errors``.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Protocol, Sequence


class Text(NamedTuple):
    """An error class's prose: what happened, what to do, and why not to re-run ("": re-running is fine)."""

    summary: str
    fix: str = ""
    do_not_rerun: str = ""


def counted(count: int, one: str, many: str | None = None) -> str:
    """``1 number``, ``0 numbers``, ``2 invalid entries``: every count the CLI prints goes through here."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


# --- the Graph API's answers -------------------------------------------------------------------

GRAPH_API_ERROR = Text("the Graph API returned an error")  # a class's default; an instance may say more
TRANSIENT_ERROR = Text("temporary Graph API failure")
USER_ACTION_REQUIRED = Text("the Graph API refused the call")
FATAL_ERROR = Text("the Graph API rejected the request")

UNKNOWN_GRAPH_ERROR = Text("unknown Graph API error")
SERVICE_OVERLOADED = Text("Graph API service overloaded")
RATE_LIMITED = Text(
    "rate limited by Meta",
    "wait until the time stated, or spread the work over several runs (fewer numbers per run)")
SERVICE_UNAVAILABLE = Text("WhatsApp service unavailable")
ACCOUNT_IN_MAINTENANCE = Text("the WhatsApp Business Account is in maintenance mode")
SERVER_TEMPORARILY_UNAVAILABLE = Text("WhatsApp server temporarily unavailable")
SERVER_ERROR = Text("Graph API server error")

# --- no answer ------------------------------------------------------------------------------------

_CHECK_THE_NETWORK = ("check whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL), the network, and any "
                      "HTTPS_PROXY / NO_PROXY settings")
NETWORK_ERROR = Text("no answer from the Graph API (connection failed or dropped)", _CHECK_THE_NETWORK)
CONNECT_ERROR = Text(
    "the Graph host cannot be reached: connection refused",
    "check the host and port in whatsapp:graphApiUrl (is the emulator running?) and any HTTPS_PROXY / "
    "NO_PROXY settings")
DNS_ERROR = Text(
    "the Graph host cannot be reached: DNS lookup failed",
    "check the host in whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL) and this machine's DNS")
TLS_ERROR = Text(
    "the Graph host cannot be reached: TLS certificate verification failed",
    "behind a TLS-inspecting proxy, point REQUESTS_CA_BUNDLE at its CA certificate; never turn "
    "verification off")
PROXY_ERROR = Text("the Graph host cannot be reached: the proxy failed", "check HTTPS_PROXY / NO_PROXY and the proxy")
PROXY_AUTH_REQUIRED = Text(
    "the Graph host cannot be reached: the proxy requires authentication (HTTP 407)",
    "put the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port)")
REQUEST_TIMEOUT = Text(
    "the Graph API did not answer in time",
    "check the network and any proxy; a mutating call may still have taken effect")
CONNECTION_DROPPED = Text("the connection to the Graph API dropped", _CHECK_THE_NETWORK)
# A loopback address is reached directly, never through a proxy (config.py): its fix names the
# emulator, started on the state `./scripts/up-local` keeps, and no proxy setting.
_START_THE_EMULATOR = ("start the emulator on the state up-local keeps (python -m emulator --state "
                       ".pulumi-local/emulator.json, port 8787), or fix the port in whatsapp:graphApiUrl")
LOOPBACK_FIXES: dict[str, str] = {
    "refused": f"nothing listens at that loopback address: {_START_THE_EMULATOR}",
    "timeout": "the emulator at that loopback address did not answer in time: check that it is running and not "
               "paused, and its --latency-ms",
    "dropped": f"the emulator at that loopback address closed the connection: {_START_THE_EMULATOR}",
}
FOREIGN_HOST_REFUSED = Text(
    "not followed: the token goes only to the configured Graph host",
    "report the paging URL Meta returned; nothing was sent to that host")
REDIRECT_REFUSED = Text(
    "the Graph API answered with a redirect, which is not followed: the token, app secret proof and "
    "PIN go only to the host checked in whatsapp:graphApiUrl",
    "point whatsapp:graphApiUrl (or WHATSAPP_GRAPH_API_URL) at the final address itself, if it is one the "
    "token may go to")
PAGING_LOOP = Text(
    "the listing's paging.next points back at a page already read, so the listing cannot be read completely",
    "try again later; if it persists, report the paging URLs to Meta")
PAGING_LIMIT = Text(
    "the listing has more pages than this client reads (1000), so it was not read completely",
    "report it: no business account has that many phone numbers")

# --- a person must act ----------------------------------------------------------------------------

# The token's fix: the environment first, as every token sentence (README, config._token_fix).
AUTHENTICATION_FAILED = Text(
    "the access token was rejected",
    "set a valid token in WHATSAPP_ACCESS_TOKEN (or the secret stack config whatsapp:accessToken, which wins)")
APP_SECRET_PROOF_REJECTED = Text(
    "Meta requires a valid appsecret_proof for this app (Require App Secret)",
    "set the app's secret in WHATSAPP_APP_SECRET (or as whatsapp:appSecret with `pulumi config set --secret "
    "whatsapp:appSecret`, which wins); it must belong to the app that issued the access token")
CAPABILITY_MISSING = Text(
    "the app lacks the capability or permission for this call",
    "check that the app has the WhatsApp product and the token whatsapp_business_management "
    "on the number's business account")
PERMISSION_DENIED = Text(
    "the token lacks a permission",
    "grant the system user whatsapp_business_management on the number's business account")
ACCESS_DENIED = Text("access denied", "check the token's permissions on this number")
POLICY_BLOCKED = Text(
    "temporarily blocked by Meta for policy violations",
    "resolve the policy issue in WhatsApp Manager, then try again")
DEREGISTRATION_INCOMPLETE = Text(
    "a previous deregistration is incomplete",
    "deregister the number again, then register it")

_PIN_GUESS = ("every attempt uses a PIN guess and the 72-hour register budget, and Meta blocks the number "
              "for 72 hours after 10 calls")
_WAIT_THEN_FIX_THE_PIN = "wait for the time Meta states, then fix the PIN before trying again"

PIN_MISMATCH = Text(
    "two-step verification PIN mismatch",
    "declare the number's current two-step PIN in its `pin` (or reset the PIN in WhatsApp "
    "Manager); each failed attempt uses a PIN guess and the 72-hour register budget",
    _PIN_GUESS)
ACCOUNT_LOCKED = Text(
    "the business account is locked (for example after a wrong two-step PIN)",
    "see the account's status in WhatsApp Manager and unlock it there; if a PIN was wrong, declare "
    "the number's current two-step PIN in its `pin`",
    "Meta locked the account, and every further register attempt uses a PIN guess and the "
    "72-hour register budget without unlocking it")
NOT_VERIFIED = Text(
    "the number must be verified before it can register",
    "run `python -m provider verify --phone-number-id <id>`")
TOO_MANY_PIN_ATTEMPTS = Text("too many two-step PIN guesses", _WAIT_THEN_FIX_THE_PIN, _PIN_GUESS)
PIN_GUESSES_TOO_FAST = Text("two-step PIN guessed too fast", _WAIT_THEN_FIX_THE_PIN, _PIN_GUESS)
NUMBER_NOT_REGISTERED = Text("the number is not registered")
RECENTLY_DELETED = Text("the number was deleted recently", "wait 5 minutes before registering it again")
REGISTRATION_LIMIT_REACHED = Text(
    "register/deregister limit reached: Meta blocks the number for 72 hours",
    "wait 72 hours; every further attempt extends nothing but the outage",
    "Meta has blocked register and deregister for this number for 72 hours, and an attempt "
    "cannot shorten that")
REQUEST_CODE_FAILED = Text("requesting a verification code failed")

# --- the request is wrong -------------------------------------------------------------------------

INVALID_PARAMETER = Text("invalid or unsupported parameter")
OBJECT_NOT_FOUND = Text("object not found (deleted, or the token lacks permission to see it)")
NUMBER_DELETED = Text("the business phone number has been deleted")
UNCONFIRMED_MISSING_OBJECT = Text(
    "Meta says the object is missing, without the subcode that confirms it",
    "check the number in WhatsApp Manager; nothing was marked deleted on this answer")
PARAMETER_MISSING = Text("required parameter missing")
PARAMETER_VALUE_INVALID = Text("parameter value is not valid")
UNCLASSIFIED_ERROR = Text("Graph API error")

# --- this provider's own -------------------------------------------------------------------------

READ_BACK_MISMATCH_DO_NOT_RERUN = (
    "Meta accepted every call but the number did not end up as declared; another attempt is another "
    "cutover (offline again, and more of the 72-hour register budget) with no reason to end otherwise")


# --- the helpers ------------------------------------------------------------------------------------


class _Referenced(Protocol):
    @property
    def reference(self) -> str: ...


class _Answer(_Referenced, Protocol):
    """What ``graph_error`` reads of a ``GraphAPIError``."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def graph_message(self) -> str: ...
    @property
    def details(self) -> str | None: ...
    @property
    def retry_at(self) -> float | None: ...
    @property
    def fix(self) -> str: ...


def reference(code: int | None, subcode: int | None, http_status: int | None, fbtrace_id: str | None) -> str:
    """`Graph error 133005/2388001, HTTP 400, fbtrace_id AbC`: what Meta support asks for."""
    parts = []
    if code is not None:
        parts.append(f"Graph error {code}" + (f"/{subcode}" if subcode else ""))
    if http_status is not None:
        parts.append(f"HTTP {http_status}")
    if fbtrace_id:
        parts.append(f"fbtrace_id {fbtrace_id}")
    return ", ".join(parts)


def graph_error(e: _Answer) -> str:
    """`POST /1/register: two-step verification PIN mismatch: <Meta's words> (<reference>). Fix: ...`."""
    where = f"{e.method} {e.path}: " if e.method else ""
    text = f"{where}{e.summary}"
    said = e.details or e.graph_message
    if said:
        text += f": {said}"
    if e.reference:
        text += f" ({e.reference})"
    if e.retry_at is not None:
        # Wall-clock time: a person reading it later cannot know when "Retry-After: 900" came.
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(e.retry_at))
        text += f"; Meta accepts calls again at {when}"
    if e.fix:
        text += f". Fix: {e.fix}"
    return text


def with_hint(fix: str, hint: str | None) -> str | None:
    """A class's fix with what the caller knows added (where the token came from); None: the class's own."""
    if not hint:
        return None
    return f"{fix}. {hint}" if fix else hint


def cannot_see(number_id: str, exc: _Referenced) -> str:
    """The one wording of a number the token cannot see (100/33): Meta cannot tell deleted from hidden."""
    return f"cannot see number {number_id}: deleted, or the token lacks permission to see it ({exc.reference})"


def refused_before_any_call(number_id: str, problems: Sequence[object]) -> str:
    lines = "; ".join(map(str, problems))
    return f"whatsapp {number_id}: refused before any change (no call was made): {lines}"


def reads_back(registered: bool, storage: str | None) -> str:
    state = "registered" if registered else "NOT registered (offline)"
    return f"it reads back {state} with storage {storage or 'unmanaged/unknown'}"


class _NoAnswer(Protocol):
    @property
    def summary(self) -> str: ...
    @property
    def graph_message(self) -> str: ...
    @property
    def details(self) -> str | None: ...
    @property
    def fix(self) -> str: ...


def unreachable(url: str, cause: _NoAnswer, failed: int, total: int) -> str:
    """Every read failed at the connection level: said once for the run, not once per number."""
    said = cause.details or cause.graph_message
    untried = f", the other {total - failed} were not tried" if total > failed else ""
    text = (f"cannot reach the Graph API at {url}: {cause.summary}"
            + (f" ({said})" if said else "")
            + f"; no read got an answer ({failed} of {counted(total, 'number')} failed{untried}), so nothing was "
              "compared")
    if cause.fix:
        text += f". Fix: {cause.fix}"
    return text
