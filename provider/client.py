"""The Graph API client: one method per endpoint, one choke point for HTTP.

``GraphClient._send`` is the only place that talks HTTP. It sets a timeout on every call, adds
``appsecret_proof`` when an app secret is configured, turns every error answer into a typed
error (``answers.error_from_response``) and every failed connection into a ``NetworkError`` with
a machine-readable ``reason``, and retries transient failures of idempotent calls with bounded,
jittered exponential backoff that honours Retry-After. A throttled read waits the time Meta
states, up to ``RetryPolicy.max_throttle_wait`` in all. Register, deregister, request_code and
verify_code are never retried here: their outcome after a failure is ambiguous, so the executor
reads the number before deciding.

One ``requests.Session`` (its urllib3 pool is thread-safe) carries the token in a header and
reuses connections across the provider's worker threads. Tests pass their own session (with a
transport adapter mounted) as ``session=``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from .config import ProviderConfig, is_loopback
from .answers import error_from_response
from .errors import (
    NETWORK_ERRORS_BY_REASON,
    AppSecretProofRejected,
    AuthenticationFailed,
    ForeignHostRefused,
    GraphAPIError,
    InvalidParameter,
    NetworkError,
    PagingLimit,
    PagingLoop,
    ProxyAuthRequired,
    RateLimited,
    RedirectRefused,
    RequestTimeout,
    TransientError,
)
from .memory import DroppedFields
from .models import NODE_FIELDS, OPTIONAL_NODE_FIELDS, LiveNumber, PhoneNumberNode, StorageConfiguration
from .notices import Notice, Notices
from .redact import redact, register_secret
from .regions import DEFAULT


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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _shorten(text: str, limit: int = 300) -> str:
    """urllib3's connection errors nest several reprs; keep the start, cut at a word."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _usage_entries(response: requests.Response) -> list[dict[str, Any]]:
    """The usage objects of Meta's X-App-Usage and X-Business-Use-Case-Usage headers."""
    entries: list[dict[str, Any]] = []
    for header in ("X-App-Usage", "X-Business-Use-Case-Usage"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict) and "call_count" in data:
            entries.append(data)
        elif isinstance(data, dict):
            for value in data.values():
                entries.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict))
    return entries


def _number(entry: dict[str, Any], key: str) -> float:
    try:
        return float(entry.get(key, 0))
    except (TypeError, ValueError):
        return 0.0


def _usage_percent(response: requests.Response) -> float:
    """The highest usage figure in Meta's X-App-Usage / X-Business-Use-Case-Usage headers."""
    return max((_number(e, k) for e in _usage_entries(response)
                for k in ("call_count", "total_time", "total_cputime")), default=0.0)


def _stated_wait(response: requests.Response) -> float | None:
    """Seconds until Meta accepts calls again: Retry-After, or ``estimated_time_to_regain_access`` (minutes)."""
    regain = max((_number(e, "estimated_time_to_regain_access") * 60 for e in _usage_entries(response)), default=0.0)
    wait = max(_retry_after(response) or 0.0, regain)
    return wait or None


def _answer(response: requests.Response, method: str, path: str,
            hints: Mapping[type[GraphAPIError], str]) -> dict[str, Any] | GraphAPIError:
    """A response's payload, or the typed error it stands for."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.ok and isinstance(payload, dict) and "error" not in payload:
        return payload
    if response.is_redirect or 300 <= response.status_code < 400:
        # Never followed (allow_redirects=False): requests would re-send the token, and a 307 the
        # POST body with the PIN, to a host the guard in config.check_graph_url never saw.
        location = _shorten(redact(response.headers.get("Location") or "no Location header"), 200)
        return RedirectRefused(f"HTTP {response.status_code} to {location}", http_status=response.status_code,
                               method=method, path=path)
    if response.status_code == 407:  # a plain-http target through a proxy gets 407 as an answer
        return ProxyAuthRequired("the proxy answered HTTP 407", method=method, path=path)
    return error_from_response(response.status_code, payload if payload is not None else response.text,
                               method=method, path=path, retry_after=_stated_wait(response), hints=hints)


# --- failed connections ----------------------------------------------------------------------

_POOL_PREFIX = re.compile(r"^\w+\(host='[^']*', port=\d+\): ")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first: requests wraps urllib3 wraps the socket error."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        reason = getattr(item, "reason", None)
        todo += [item.__cause__, item.__context__, reason if isinstance(reason, BaseException) else None]
        todo += [arg for arg in item.args if isinstance(arg, BaseException)]
    return seen


def _reason(chain: list[BaseException]) -> str:
    def has(*kinds: type) -> bool:
        return any(isinstance(item, kinds) for item in chain)

    if has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError):
        return "proxy_auth" if any(" 407 " in f" {item} " for item in chain) else "proxy"
    if has(ssl.SSLError, urllib3.exceptions.SSLError, requests.exceptions.SSLError):
        return "tls"
    if has(urllib3.exceptions.NameResolutionError) or any(type(i).__name__ == "gaierror" for i in chain):
        return "dns"
    if has(ConnectionRefusedError):  # before timeouts: urllib3's NewConnectionError is a ConnectTimeoutError
        return "refused"
    if has(requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return "timeout"
    return "dropped"


def network_error(exc: requests.RequestException, *, target: str, method: str, path: str) -> NetworkError:
    """The root cause in a short form (not cut at "(Caused by"), classified into ``reason``."""
    chain = _chain(exc)
    reason = _reason(chain)
    texts = [_POOL_PREFIX.sub("", str(item)) for item in chain]
    texts = [t for t in texts if t and "(Caused by" not in t] or [type(exc).__name__]
    root = next((t for t in reversed(texts) if len(t) > 12), texts[-1])
    if reason not in ("proxy", "proxy_auth"):
        root = f"{urlsplit(target).netloc}: {root}"
    return NETWORK_ERRORS_BY_REASON[reason](_shorten(redact(root), 200), method=method, path=path)


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


def _page_key(url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """A page's identity: its path and its query parameters, in any order, without credentials."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k not in ("access_token", "appsecret_proof"))
    return parts.netloc.lower(), parts.path.rstrip("/"), tuple(query)


def _session_for(base: str, session: requests.Session | None) -> requests.Session:
    """A session that reads proxies and the CA bundle (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) once.

    Then requests stops consulting the environment per call: that rescan costs ~0.9 ms CPU per
    request, and with trust_env a ~/.netrc entry for the Graph host would replace the Bearer
    token on every call. A caller's session keeps its transport (tests mount a fake Graph API).

    A loopback Graph URL (the emulator, the only place plain http is allowed) is reached directly,
    never through a proxy: through HTTP_PROXY the token would leave the machine in clear text, to
    a proxy whose answers would become the plan. So its session gets no proxies at all.
    """
    own = session is None
    session = session or requests.Session()
    env = session.merge_environment_settings(base, {}, None, None, None)
    session.trust_env = False
    if is_loopback(urlsplit(base).hostname or ""):
        session.proxies.clear()
    else:
        session.proxies.update(env["proxies"])
    session.verify = env["verify"]
    if own:
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


class GraphClient:
    """WhatsApp Cloud API calls for phone numbers, with typed errors and bounded retries."""

    SLOW_DOWN_AT_PERCENT = 90.0

    def __init__(
        self,
        config: ProviderConfig,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        fields: DroppedFields | None = None,
        notices: Notices | None = None,
    ) -> None:
        """``fields`` and ``notices``: the process's memory of rejected optional fields and its
        notice sink (a client of its own when not given)."""
        token = config.require_token()
        self._fields = fields if fields is not None else DroppedFields()
        self._notices = notices if notices is not None else Notices()
        self.config = config
        self._base = f"{config.graph_api_url}/{config.api_version}"
        self._origin = urlsplit(config.graph_api_url)[:2]
        self._timeout = timeout
        self.retry = retry
        self._sleep = sleep
        self._proof: dict[str, str] = {}
        if config.app_secret:
            proof = hmac.new(config.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            register_secret(proof)
            self._proof = {"appsecret_proof": proof}
        self._hints: dict[type[GraphAPIError], str] = {AuthenticationFailed: config.token_hint(),
                                                        AppSecretProofRejected: config.app_secret_hint()}
        for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            userinfo = urlsplit(os.environ.get(var, "")).netloc.rpartition("@")[0]
            register_secret(userinfo)
            register_secret(unquote(userinfo))
            register_secret(unquote(userinfo.partition(":")[2]))  # the password alone, when long enough
        self._session = _session_for(self._base, session)
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._usage = 0.0

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
        while True:
            timeout = self._timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout("offline deadline passed before the call", method=method, path=path)
                timeout = (min(timeout[0], left), min(timeout[1], left))
            # Pace fresh reads when usage is high; a retry has just waited already.
            if attempt == 0 and idempotent and method == "GET" and self._usage >= self.SLOW_DOWN_AT_PERCENT:
                self._sleep(min(5.0, (self._usage - self.SLOW_DOWN_AT_PERCENT) / 2))
            error = self._attempt(method, target, path, query, body, timeout)
            if not isinstance(error, GraphAPIError):
                return error
            attempt += 1
            if not (idempotent and isinstance(error, TransientError)) or getattr(error, "reason", "") == "redirect":
                raise error
            if method == "GET" and isinstance(error, RateLimited):
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

    def _attempt(self, method: str, target: str, path: str, query: dict[str, Any], body: dict[str, Any] | None,
                 timeout: tuple[float, float]) -> dict[str, Any] | GraphAPIError:
        """One HTTP exchange: the payload, or the typed error (returned, so that _send decides on retries)."""
        try:
            response = self._session.request(method, target, params=query or None, json=body, timeout=timeout,
                                             allow_redirects=False)
        except requests.RequestException as exc:
            return network_error(exc, target=target, method=method, path=path)
        self._usage = _usage_percent(response)
        return _answer(response, method, path, self._hints)

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
        return self._with_fields(fields, lambda asked: list(self._pages(path, {"fields": asked, "limit": 100})))

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following ``paging.next`` (at most ``MAX_PAGES`` pages).

        Meta puts ``access_token`` into ``next``: it is stripped (the header carries the token,
        and _send adds this client's own ``appsecret_proof``), and a ``next`` on another host or
        scheme is refused, so the token never goes anywhere else. A ``next`` that repeats a page
        already read, or more than ``MAX_PAGES`` pages, is an error: the listing is not complete.
        """
        url: str | None = None
        query: dict[str, Any] | None = params
        first = requests.Request("GET", f"{self._base}{path}", params=params).prepare().url or ""
        seen = {_page_key(first)}
        for _ in range(MAX_PAGES):
            data = self._send("GET", path, params=query, idempotent=True, url=url)
            yield from (item for item in data.get("data", []) if isinstance(item, dict))
            nxt = (data.get("paging") or {}).get("next")
            if not nxt:
                return
            parts = urlsplit(nxt)
            if parts[:2] != self._origin:
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
        body = {"messaging_product": "whatsapp", "pin": pin}
        if region is not None and region != DEFAULT:
            body["data_localization_region"] = region
        self._send("POST", f"/{number_id}/register", body=body, idempotent=False, deadline=deadline)

    def deregister(self, number_id: str, *, deadline: float | None = None) -> None:
        """``POST /{id}/deregister``: the number goes offline."""
        self._send("POST", f"/{number_id}/deregister", idempotent=False, deadline=deadline)

    def set_pin(self, number_id: str, pin: str) -> None:
        """``POST /{id}`` ``{"pin": ...}``: sets the two-step PIN (same PIN twice is harmless)."""
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
