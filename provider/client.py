"""The Graph API client: one method per endpoint, one choke point for HTTP.

``GraphClient._send`` is the only place that talks HTTP. It adds ``appsecret_proof`` when an app
secret is configured, bounds every call on the clock (its own limit, or the cutover's offline
deadline if sooner), and retries transient failures of idempotent calls with bounded, jittered
exponential backoff that honours Retry-After. A throttled read waits the time Meta states, up to
``RetryPolicy.max_throttle_wait`` in all. Register, deregister, request_code and verify_code are
never retried here: their outcome after a failure is ambiguous, so the executor reads the number
before deciding. Each exchange is ``transport.exchange``: the HTTP plumbing (the session, the
watchdog that cuts a slow call off, answers and redirects as typed errors, failed connections
mapped type to type, Meta's usage headers).

One ``requests.Session`` (its urllib3 pool is thread-safe) carries the token in a header and
reuses connections across the provider's worker threads. Tests pass their own session (with a
transport adapter mounted) as ``session=``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import requests

from . import transport
from .config import ProviderConfig
from .errors import (
    AccountLimitReached,
    AppSecretProofRejected,
    AuthenticationFailed,
    ForeignHostRefused,
    GraphAPIError,
    InvalidParameter,
    PagingLimit,
    PagingLoop,
    RateLimited,
    RedirectRefused,
    RequestTimeout,
    TransientError,
)
from .memory import LISTING_PAGE, DroppedFields
from .models import NODE_FIELDS, OPTIONAL_NODE_FIELDS, LiveNumber, PhoneNumberNode, StorageConfiguration
from .notices import Notice, Notices
from .redact import register_pin, register_secret
from .regions import DEFAULT
from .usage import APP, Usage


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; Retry-After wins when Meta sends it."""

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    max_retry_after: float = 60.0
    # A throttled read waits at most this long in all; past it the error says when Meta accepts
    # calls again, so that a run does not hang for the hour a business-use-case limit can last.
    max_throttle_wait: float = 60.0
    throttle_attempts: int = 8

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


_T = TypeVar("_T")

# Numbers read at once by the CLI and import (each read is two GETs on this client's pool).
READ_WORKERS = 8

# Fields Meta rejected as nonexisting and that are optional are remembered per process
# (memory.DroppedFields, given to the client), since every client of the process talks to the same Graph API.
_NONEXISTING_FIELD = re.compile(r"nonexisting field \((\w+)\)")


def _drop_optional_field(exc: InvalidParameter, asked: list[str], fields: DroppedFields, notices: Notices) -> bool:
    """Whether ``exc`` rejected an optional field that was asked for; if so, never ask for it again."""
    # Meta's answer (100, "Tried accessing nonexisting field (NAME)") names the field in its
    # message only: there is no code or subcode to decide on.
    match = _NONEXISTING_FIELD.search(exc.graph_message)
    name = match.group(1) if match else None
    if name not in OPTIONAL_NODE_FIELDS or name not in asked:
        return False
    if fields.drop(name):
        notices.once(Notice(f"field:{name}", f"the Graph API rejects the phone number field `{name}` as nonexisting "
                                            f"({exc.reference}); reading numbers without it from now on"))
    return True


MAX_PAGES = 1000


def counted(path: str) -> bool:
    """A read Meta counts against a business account's hourly limit: the node, the account, its listing."""
    parts = path.strip("/").split("/")
    return len(parts) == 1 or parts[-1] == "phone_numbers"


def _page_key(url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """A page's identity: its path and its query parameters, in any order, without credentials."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in ("access_token", "appsecret_proof"))
    return parts.netloc.lower(), parts.path.rstrip("/"), tuple(query)


Send = Callable[..., dict[str, Any]]


def _pages(send: Send, first_url: str, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a listing, following ``paging.next`` (at most ``MAX_PAGES`` pages).

    Meta puts ``access_token`` into ``next``: it is stripped (the header carries the token, and
    _send adds this client's own ``appsecret_proof``), and a ``next`` on another host or scheme
    than ``first_url``'s is refused, so the token never goes anywhere else. A ``next`` that
    repeats a page already read, or more than ``MAX_PAGES`` pages, is an error: the listing is
    not complete.
    """
    url: str | None = None
    query: dict[str, Any] | None = params
    first = requests.Request("GET", first_url, params=params).prepare().url or ""
    origin = urlsplit(first_url)[:2]
    seen = {_page_key(first)}
    for _ in range(MAX_PAGES):
        data = send("GET", path, params=query, idempotent=True, url=url)
        yield from (item for item in data.get("data", []) if isinstance(item, dict))
        nxt = (data.get("paging") or {}).get("next")
        if not nxt:
            return
        parts = urlsplit(nxt)
        if parts[:2] != origin:
            raise ForeignHostRefused(f"paging.next points at another host ({parts.scheme}://{parts.netloc})",
                                     method="GET", path=path)
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in ("access_token", "appsecret_proof")]
        url, query = urlunsplit(parts._replace(query=urlencode(kept))), None
        key = _page_key(url)
        if key in seen:  # a loop would be read forever, or up to the limit and reported complete
            raise PagingLoop(f"page {len(seen) + 1} repeats an earlier page", method="GET", path=path)
        seen.add(key)
    raise PagingLimit(f"stopped after {MAX_PAGES} pages", method="GET", path=path)


SLOW_DOWN_AT_PERCENT = 90.0
MAX_PACE_SECONDS = 1.0  # past the slow-down point, each counted read waits up to this (said once)
LIMIT_WAIT_SECONDS = 60.0  # an 80008 whose access returns within this is waited for, once


def pace_seconds(usage: Mapping[str, float], path: str) -> float:
    """How long a counted read waits first, by the figures it is counted against: a listing (or the
    account itself) by the app's and its own business account's; a node read names no account
    (its number's account is not in the path), so it goes by the hottest one, as it may be that one.
    Another account past the slow-down point never paces an account's listing."""
    parts = path.strip("/").split("/")
    if parts[-1] == "phone_numbers":
        percent = max(usage.get(APP, 0.0), usage.get(parts[0], 0.0))
    else:
        percent = max(usage.values(), default=0.0)
    return 0.0 if percent < SLOW_DOWN_AT_PERCENT else min(MAX_PACE_SECONDS, (percent - SLOW_DOWN_AT_PERCENT) / 10)


class Figures:
    """The latest usage figure per business account (``APP``: the app's), from every answer's
    headers, shared by the client's threads: what pacing goes by."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: dict[str, float] = {}

    def update(self, usage: Usage) -> None:
        with self._lock:
            self._figures.update(usage.accounts)

    def pace(self, path: str) -> float:
        with self._lock:
            return pace_seconds(self._figures, path)


def _say_slowing(notices: Notices, usage: Usage) -> None:
    """The first time an account (or the app) passes the slow-down point, say so on stderr: reads
    are paced from then on, never silently."""
    for account, percent in usage.accounts.items():
        if percent < SLOW_DOWN_AT_PERCENT:
            continue
        who = ("the app has used {:.0f}% of its hourly Graph API calls (X-App-Usage)" if account == APP else
               f"business account {account} has used {{:.0f}}% of Meta's hourly limit for reading numbers "
               "(X-Business-Use-Case-Usage)").format(percent)
        notices.once(Notice(f"usage:{account}", f"{who}: reads that count against it are paced from now on (at "
                            f"most {MAX_PACE_SECONDS:g} s each); at 100% Meta refuses them (80008)"))


def _limit_wait(error: AccountLimitReached, waited: int, retry: RetryPolicy, notices: Notices) -> float:
    """How long a read waits for an 80008, said on stderr; raises ``error`` when it must not wait.

    Meta: "stop making API calls". Waited for once, and only when access returns within a minute;
    otherwise the reader stops reading the account (no crawl, no retry into the limit)."""
    delay = error.retry_after if error.retry_after is not None else retry.delay(0)
    if waited or delay > LIMIT_WAIT_SECONDS:
        raise error
    who = f"business account {error.waba_id}" if error.waba_id else "a business account"
    notices.line(f"whatsapp: {who} reached Meta's hourly limit for reading numbers; access returns within a "
                 f"minute: waiting {delay:.0f} s, once")
    return delay


def _register_proxy_secrets() -> None:
    """A proxy's credentials in the environment are masked wherever they would be printed."""
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        userinfo = urlsplit(os.environ.get(var, "")).netloc.rpartition("@")[0]
        register_secret(userinfo)
        register_secret(unquote(userinfo))
        register_secret(unquote(userinfo.partition(":")[2]))  # the password alone, when long enough


class GraphClient:
    """WhatsApp Cloud API calls for phone numbers, with typed errors and bounded retries."""


    def __init__(
        self,
        config: ProviderConfig,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        call_limit: float | None = None,
        fields: DroppedFields | None = None,
        notices: Notices | None = None,
    ) -> None:
        """``timeout`` is urllib3's (connect, each read); ``call_limit`` bounds a whole call on the clock
        (default: their sum); ``fields``, ``notices``: the process's dropped fields and notice sink."""
        token = config.require_token()
        self._fields, self._notices = fields or DroppedFields(), notices or Notices()
        self.config = config
        self._base = f"{config.graph_api_url}/{config.api_version}"
        self._timeout = timeout
        self._call_limit = call_limit if call_limit is not None else sum(timeout)
        self.retry = retry
        self._sleep = sleep
        self._proof: dict[str, str] = {}
        if config.app_secret:
            proof = hmac.new(config.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            register_secret(proof)
            self._proof = {"appsecret_proof": proof}
        self._hints: dict[type[GraphAPIError], str] = {AuthenticationFailed: config.token_hint(),
                                                        AppSecretProofRejected: config.app_secret_hint()}
        _register_proxy_secrets()
        self._session = transport.session_for(self._base, session)
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._usage = Figures()

    def __reduce__(self) -> Any:
        raise TypeError("GraphClient holds credentials and is never pickled")

    # -- the choke point ----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        idempotent: bool,
        deadline: float | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        target = url or f"{self._base}{path}"
        query = {**(params or {}), **self._proof}
        attempt = 0
        throttled_for = 0.0
        limit_waits = 0
        while True:
            timeout, limit, limit_name = self._timeout, self._call_limit, "the call's time limit"
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout("offline deadline passed before the call", method=method, path=path)
                timeout = (min(timeout[0], left), min(timeout[1], left))
                if left < limit:
                    limit, limit_name = left, "the cutover's offline deadline"
            # Pace fresh reads that Meta counts when usage is high (said once: _slowing); a retry has
            # just waited already. Settings reads are not on Meta's list: never paced.
            if attempt == 0 and method == "GET" and counted(path) and (pace := self._usage.pace(path)):
                self._sleep(pace)
            error, usage = transport.exchange(self._session, method, target, path=path, params=query or None,
                                              body=body, timeout=timeout, limit=limit, limit_name=limit_name,
                                              hints=self._hints)
            if usage is not None:
                self._usage.update(usage)
                _say_slowing(self._notices, usage)
            if not isinstance(error, GraphAPIError):
                return error
            attempt += 1
            if not (idempotent and isinstance(error, TransientError)) or isinstance(error, RedirectRefused):
                raise error
            if method == "GET" and isinstance(error, AccountLimitReached):
                delay = _limit_wait(error, limit_waits, self.retry, self._notices)
                limit_waits += 1
            elif method == "GET" and isinstance(error, RateLimited):
                # A throttled read waits as long as Meta says, within max_throttle_wait in all.
                delay = error.retry_after or self.retry.delay(attempt - 1)
                if throttled_for + delay > self.retry.max_throttle_wait or attempt >= self.retry.throttle_attempts:
                    raise error
                throttled_for += delay
            elif attempt < self.retry.attempts:
                delay = self.retry.delay(attempt - 1, error.retry_after)
            else:
                raise error
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise error
            self._sleep(delay)

    # -- reads ----------------------------------------------------------------------------------

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode:
        """``GET /{id}?fields=...``: registration, verification and coexistence state."""
        data = self._with_fields(NODE_FIELDS, lambda asked: self._send(
            "GET", f"/{number_id}", params={"fields": asked}, idempotent=True, deadline=deadline))
        return PhoneNumberNode.model_validate({"id": number_id, **data})

    def _with_fields(self, fields: tuple[str, ...], fetch: Callable[[str], _T]) -> _T:
        """``fetch(fields)`` without the optional fields Meta has rejected as nonexisting.

        Meta's field lists differ between its pages and versions (``is_pin_enabled``), so an
        optional field it rejects is dropped for the rest of the process, with one notice. A
        rejected field that a safety decision needs stays an error.
        """
        while True:
            asked = [name for name in fields if not self._fields.dropped(name)]
            try:
                return fetch(",".join(asked))
            except InvalidParameter as exc:
                if not _drop_optional_field(exc, asked, self._fields, self._notices):
                    raise

    def get_storage(self, number_id: str, *, deadline: float | None = None) -> StorageConfiguration:
        """``GET /{id}/settings``: only ``storage_configuration`` is used; other settings are ignored."""
        data = self._send("GET", f"/{number_id}/settings", idempotent=True, deadline=deadline)
        return StorageConfiguration.from_settings(data)

    def read(self, number_id: str) -> LiveNumber:
        """The node and its settings, issued concurrently: one round trip."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="graph-read")
            pool = self._pool
        storage = pool.submit(self.get_storage, number_id)
        try:
            node = self.get_number(number_id)
        finally:
            settings_error = storage.exception()
        if settings_error is not None:
            raise settings_error
        return LiveNumber(node=node, storage=storage.result())

    def list_business_numbers(self, waba_id: str) -> set[str]:
        """IDs of every number in a WhatsApp Business Account."""
        return {str(item["id"]) for item in self.list_phone_numbers(waba_id, ("id",)) if "id" in item}

    def list_phone_numbers(self, waba_id: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """``GET /{waba_id}/phone_numbers?fields=...``: every number of the account, all pages."""
        path = f"/{waba_id}/phone_numbers"
        return self._with_fields(fields, lambda asked: list(_pages(
            self._send, f"{self._base}{path}", path, {"fields": asked, "limit": LISTING_PAGE})))

    # -- mutations ------------------------------------------------------------------------------

    def set_storage(self, number_id: str, region: str, *, deadline: float | None = None) -> None:
        """``POST /{id}/settings`` with only ``storage_configuration`` (never other settings).

        Setting the same storage twice has the same effect, so transient failures are retried.
        """
        if region == DEFAULT:
            storage: dict[str, str] = {"status": "IN_COUNTRY_STORAGE_DISABLED"}
        else:
            storage = {"status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": region}
        self._send("POST", f"/{number_id}/settings", body={"storage_configuration": storage},
                   idempotent=True, deadline=deadline)

    def register(self, number_id: str, pin: str, *, region: str | None = None,
                 deadline: float | None = None) -> None:
        """``POST /{id}/register``. ``region`` is only for the v20-and-earlier flow."""
        register_pin(pin)  # a server that echoes it in an error text gets it masked
        body = {"messaging_product": "whatsapp", "pin": pin}
        if region is not None and region != DEFAULT:
            body["data_localization_region"] = region
        self._send("POST", f"/{number_id}/register", body=body, idempotent=False, deadline=deadline)

    def deregister(self, number_id: str, *, deadline: float | None = None) -> None:
        """``POST /{id}/deregister``: the number goes offline."""
        self._send("POST", f"/{number_id}/deregister", idempotent=False, deadline=deadline)

    def set_pin(self, number_id: str, pin: str) -> None:
        """``POST /{id}`` ``{"pin": ...}``: sets the two-step PIN (same PIN twice is harmless)."""
        register_pin(pin)
        self._send("POST", f"/{number_id}", body={"pin": pin}, idempotent=True)

    def request_code(self, number_id: str, method: str = "SMS", language: str = "en_US") -> None:
        self._send("POST", f"/{number_id}/request_code",
                   params={"code_method": method, "language": language}, idempotent=False)

    def verify_code(self, number_id: str, code: str) -> None:
        self._send("POST", f"/{number_id}/verify_code", params={"code": code}, idempotent=False)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        self._session.close()
