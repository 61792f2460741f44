"""The Graph API client: one method per endpoint, one choke point for HTTP.

``GraphClient._send`` is the only place that talks HTTP. It sets a timeout on every call,
turns every error answer into a typed error (``errors.error_from_response``), and retries
transient failures of idempotent calls with bounded, jittered exponential backoff that honours
Retry-After. Register, deregister, request_code and verify_code are never retried here: their
outcome after a failure is ambiguous, so the executor reads the number before deciding.

One ``requests.Session`` (its urllib3 pool is thread-safe) carries the token in a header and
reuses connections across the provider's worker threads.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from .config import ProviderConfig
from .errors import (
    GraphAPIError,
    NetworkError,
    RequestTimeout,
    TransientError,
    error_from_response,
)
from .models import NODE_FIELDS, LiveNumber, PhoneNumberNode, StorageConfiguration
from .redact import redact, register_secret
from .regions import DEFAULT


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; Retry-After wins when Meta sends it."""

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    max_retry_after: float = 60.0

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


def _usage_percent(response: requests.Response) -> float:
    """The highest usage figure in Meta's X-App-Usage / X-Business-Use-Case-Usage headers."""
    peak = 0.0
    for header in ("X-App-Usage", "X-Business-Use-Case-Usage"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [data] if isinstance(data, dict) and "call_count" in data else []
        if isinstance(data, dict) and not entries:
            for value in data.values():
                entries.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict))
        for entry in entries:
            for key in ("call_count", "total_time", "total_cputime"):
                try:
                    peak = max(peak, float(entry.get(key, 0)))
                except (TypeError, ValueError):
                    pass
    return peak


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
    ) -> None:
        token = config.require_token()
        self.config = config
        self._base = f"{config.graph_api_url}/{config.api_version}"
        self._host = urlsplit(config.graph_api_url).netloc
        self._timeout = timeout
        self.retry = retry
        self._sleep = sleep
        for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            userinfo = urlsplit(os.environ.get(var, "")).netloc.rpartition("@")[0]
            register_secret(userinfo)
        self._session = session or requests.Session()
        # Read proxies and the CA bundle (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) once, then stop
        # requests from consulting the environment per call: that rescan costs ~0.9 ms CPU per
        # request, and with trust_env a ~/.netrc entry for the Graph host would replace the Bearer
        # token on every call.
        env = self._session.merge_environment_settings(self._base, {}, None, None, None)
        self._session.trust_env = False
        self._session.proxies.update(env["proxies"])
        self._session.verify = env["verify"]
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._usage = 0.0

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
        attempt = 0
        while True:
            timeout = self._timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout("offline deadline passed before the call", method=method, path=path)
                timeout = (min(timeout[0], left), min(timeout[1], left))
            if idempotent and method == "GET" and self._usage >= self.SLOW_DOWN_AT_PERCENT:
                self._sleep(min(5.0, (self._usage - self.SLOW_DOWN_AT_PERCENT) / 2))
            try:
                response = self._session.request(method, target, params=params, json=body, timeout=timeout)
            except requests.Timeout as exc:
                error: GraphAPIError = RequestTimeout(redact(type(exc).__name__), method=method, path=path)
            except requests.RequestException as exc:
                error = NetworkError(_shorten(redact(exc)), method=method, path=path)
            else:
                try:
                    payload = response.json()
                except ValueError:
                    payload = None
                usage = _usage_percent(response)
                self._usage = usage
                if response.ok and isinstance(payload, dict) and "error" not in payload:
                    return payload
                error = error_from_response(
                    response.status_code, payload if payload is not None else response.text,
                    method=method, path=path, retry_after=_retry_after(response),
                )
            attempt += 1
            if not (idempotent and isinstance(error, TransientError) and attempt < self.retry.attempts):
                raise error
            delay = self.retry.delay(attempt - 1, error.retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise error
            self._sleep(delay)

    # -- reads ----------------------------------------------------------------------------------

    def get_number(self, number_id: str, *, deadline: float | None = None) -> PhoneNumberNode:
        """``GET /{id}?fields=...``: registration, verification and coexistence state."""
        data = self._send("GET", f"/{number_id}", params={"fields": ",".join(NODE_FIELDS)},
                          idempotent=True, deadline=deadline)
        return PhoneNumberNode.model_validate({"id": number_id, **data})

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
        """``GET /{waba_id}/phone_numbers?fields=...``: every number of the account, following ``paging.next``.

        Meta puts ``access_token`` into ``next``: it is stripped (the header carries the token),
        and a ``next`` on another host is refused, so the token never goes anywhere else.
        """
        items: list[dict[str, Any]] = []
        url: str | None = None
        params: dict[str, Any] | None = {"fields": ",".join(fields), "limit": 100}
        for _ in range(1000):
            data = self._send("GET", f"/{waba_id}/phone_numbers", params=params, idempotent=True, url=url)
            items.extend(item for item in data.get("data", []) if isinstance(item, dict))
            nxt = (data.get("paging") or {}).get("next")
            if not nxt:
                return items
            parts = urlsplit(nxt)
            if parts.netloc != self._host:
                raise NetworkError(f"paging.next points at another host ({parts.netloc}); not followed",
                                   method="GET", path=f"/{waba_id}/phone_numbers")
            query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "access_token"])
            url, params = urlunsplit(parts._replace(query=query)), None
        return items

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
