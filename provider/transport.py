"""The HTTP plumbing under ``GraphClient._send``: one exchange, bounded on the clock, as a typed result.

``exchange`` makes one HTTP request and returns the answer's payload or the typed error it stands
for, never raising for a failed connection: ``GraphClient._send`` (the one choke point) decides on
retries. What it does for every call:

- **A wall-clock limit per call.** urllib3's read timeout is per socket read, so a server that
  trickles its status line, headers or body a byte at a time keeps a call alive for as long as it
  likes (38 s against a 3 s read timeout and a 4 s deadline). A ``Watchdog`` thread closes the
  connection when the call's limit (or the cutover's offline deadline, if sooner) passes, whatever
  stage is slow, and a call that was cut off is a ``RequestTimeout``: for a mutation its outcome is
  unknown, so the executor reads the number before deciding, as for any timeout.
- **No redirect is a success.** Any 3xx is ``RedirectRefused``, whatever its body: ``requests``
  would re-send the token (and a 307 the PIN) to a host the URL guard never saw, and a 3xx with
  ``{}`` as its body must not read as "done".
- **Failed connections map type to type** (``NETWORK_EXC_MAP``, HTTPX's ``HTTPCORE_EXC_MAP``):
  the first row that matches anything in the exception's chain names the ``NetworkError``
  subclass, built directly.
- **Usage headers** (``X-App-Usage``, ``X-Business-Use-Case-Usage``): the client paces its reads
  by them, and a throttled answer's wait comes from them or from Retry-After.

``session_for`` builds the one ``requests.Session`` a client uses (its urllib3 pool is
thread-safe), with the watched connections mounted; a caller's session (tests mount a fake Graph
API) keeps its own transport.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .config import is_loopback
from .errors import (
    ConnectError,
    ConnectionDropped,
    DNSError,
    GraphAPIError,
    NetworkError,
    ProxyAuthRequired,
    ProxyError,
    RedirectRefused,
    RequestTimeout,
    TLSError,
)
from .answers import error_from_response
from .redact import redact

Result = dict[str, Any] | GraphAPIError


# --- the watchdog ------------------------------------------------------------------------------


class Watch:
    """One call's limit: the connections (and their sockets) it uses, shut down when the limit passes
    before the call ends.

    Sockets are remembered as well as connections: http.client lets go of a connection's socket
    (``sock = None``) once the headers of a ``Connection: close`` answer are read, while the body
    is still being read from it.
    """

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self.done = False
        self._connections: list[Any] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def attach(self, connection: Any) -> None:
        with self._lock:
            if self.done:
                return
            if not any(c is connection for c in self._connections):
                self._connections.append(connection)
            sock = getattr(connection, "sock", None)
            if sock is not None and not any(s is sock for s in self._sockets):
                self._sockets.append(sock)
            if self.fired:
                self._cut()

    def detach(self, connection: Any) -> None:
        """The connection goes back to the pool (its answer was read): another call may take it."""
        sock = getattr(connection, "sock", None)
        with self._lock:
            self._connections = [c for c in self._connections if c is not connection]
            self._sockets = [s for s in self._sockets if s is not sock]

    def fire(self) -> None:
        with self._lock:  # held while cutting: a connection detached meanwhile is never cut
            if self.done:
                return
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        """Shut the sockets down under whatever is reading them: a blocked recv returns at once."""
        sockets = [*self._sockets, *(c.sock for c in self._connections if getattr(c, "sock", None) is not None)]
        for sock in sockets:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS
            except OSError:  # closed already (its descriptor is -1 then: never another socket's)
                pass

    def finish(self) -> bool:
        """The call ended: nothing is cut from now on. Whether the limit passed first."""
        with self._lock:
            self.done = True
            self._connections, self._sockets = [], []
            return self.fired


class Watchdog:
    """One daemon thread that fires each call's ``Watch`` at its time, for every client of the process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> Watch:
        watch = Watch(time.monotonic() + max(0.0, seconds))
        with self._cond:
            heapq.heappush(self._due, (watch.at, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="graph-watchdog", daemon=True)
                self._thread.start()
            if self._due[0][2] is watch:  # due before everything else: the thread sleeps until then
                self._cond.notify()
        return watch

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._due and self._due[0][2].done:
                        heapq.heappop(self._due)
                    if not self._due:
                        self._cond.wait()
                        continue
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                _, _, watch = heapq.heappop(self._due)
            watch.fire()


WATCHDOG = Watchdog()
_calls = threading.local()  # the Watch of the call this thread is making


def _current() -> Watch | None:
    return getattr(_calls, "watch", None)


@contextmanager
def watched(seconds: float) -> Iterator[Watch]:
    """Every connection this thread uses inside the block is closed once ``seconds`` have passed."""
    watch = WATCHDOG.start(seconds)
    _calls.watch = watch
    try:
        yield watch
    finally:
        _calls.watch = None
        watch.finish()


class _Watched:
    """Mixed into urllib3's connections: each attaches itself to the calling thread's Watch."""

    def _attach(self) -> None:
        watch = _current()
        if watch is not None:
            watch.attach(self)

    def connect(self) -> None:
        self._attach()  # during the TLS handshake too: `sock` is set before it starts
        super().connect()  # type: ignore[misc]
        self._attach()  # a limit that passed while connecting cuts it now

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._attach()  # a pooled connection is already connected
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


def _detach(conn: Any) -> None:
    watch = _current()
    if watch is not None and conn is not None:
        watch.detach(conn)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _detach(conn)
        super()._put_conn(conn)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _detach(conn)
        super()._put_conn(conn)


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with the watched connections, directly and through an HTTPS_PROXY."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def session_for(base: str, session: requests.Session | None) -> requests.Session:
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
        adapter = WatchedAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


# --- usage headers -----------------------------------------------------------------------------


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


def usage_percent(response: requests.Response) -> float:
    """The highest usage figure in Meta's X-App-Usage / X-Business-Use-Case-Usage headers."""
    return max((_number(e, k) for e in _usage_entries(response)
                for k in ("call_count", "total_time", "total_cputime")), default=0.0)


def _stated_wait(response: requests.Response) -> float | None:
    """Seconds until Meta accepts calls again: Retry-After, or ``estimated_time_to_regain_access`` (minutes)."""
    regain = max((_number(e, "estimated_time_to_regain_access") * 60 for e in _usage_entries(response)), default=0.0)
    wait = max(_retry_after(response) or 0.0, regain)
    return wait or None


# --- answers -----------------------------------------------------------------------------------


def answer(response: requests.Response, method: str, path: str,
           hints: Mapping[type[GraphAPIError], str]) -> Result:
    """A response's payload, or the typed error it stands for."""
    if 300 <= response.status_code < 400:
        # First, whatever the body: a 3xx with `{}` is not a success. Never followed
        # (allow_redirects=False): requests would re-send the token, and a 307 the POST body with
        # the PIN, to a host the guard in config.check_graph_url never saw.
        location = _shorten(redact(response.headers.get("Location") or "no Location header"), 200)
        return RedirectRefused(f"HTTP {response.status_code} to {location}", http_status=response.status_code,
                               method=method, path=path)
    if response.status_code == 407:  # a plain-http target through a proxy gets 407 as an answer
        return ProxyAuthRequired("the proxy answered HTTP 407", method=method, path=path)
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.ok and isinstance(payload, dict) and "error" not in payload:
        return payload
    return error_from_response(response.status_code, payload if payload is not None else response.text,
                               method=method, path=path, retry_after=_stated_wait(response), hints=hints)


# --- failed connections ----------------------------------------------------------------------

# Which low-level failure is which of our errors, type to type. The first row that matches anything
# in the exception's chain wins, so the order is the precedence.
NETWORK_EXC_MAP: tuple[tuple[type[BaseException], type[NetworkError]], ...] = (
    (requests.exceptions.ProxyError, ProxyError),
    (urllib3.exceptions.ProxyError, ProxyError),
    (ssl.SSLError, TLSError),
    (urllib3.exceptions.SSLError, TLSError),
    (requests.exceptions.SSLError, TLSError),
    (urllib3.exceptions.NameResolutionError, DNSError),
    (socket.gaierror, DNSError),
    # Before the timeouts: urllib3's NewConnectionError is a ConnectTimeoutError.
    (ConnectionRefusedError, ConnectError),
    (requests.Timeout, RequestTimeout),
    (urllib3.exceptions.TimeoutError, RequestTimeout),
    (TimeoutError, RequestTimeout),
)

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


def _error_class(chain: list[BaseException]) -> type[NetworkError]:
    cls = next((ours for theirs, ours in NETWORK_EXC_MAP if any(isinstance(item, theirs) for item in chain)),
               ConnectionDropped)
    # A proxy's refusal has no type of its own: urllib3 raises ProxyError("... 407 ...") for the tunnel.
    if cls is ProxyError and any(" 407 " in f" {item} " for item in chain):
        return ProxyAuthRequired
    return cls


def network_error(exc: BaseException, *, target: str, method: str, path: str) -> NetworkError:
    """The root cause in a short form (not cut at "(Caused by"), as the NetworkError for its type."""
    chain = _chain(exc)
    cls = _error_class(chain)
    texts = [_POOL_PREFIX.sub("", str(item)) for item in chain]
    texts = [t for t in texts if t and "(Caused by" not in t] or [type(exc).__name__]
    root = next((t for t in reversed(texts) if len(t) > 12), texts[-1])
    if not issubclass(cls, ProxyError):
        root = f"{urlsplit(target).netloc}: {root}"
    return cls(_shorten(redact(root), 200), method=method, path=path,
               loopback=is_loopback(urlsplit(target).hostname or ""))


# --- one exchange ------------------------------------------------------------------------------


def exchange(session: requests.Session, method: str, target: str, *, path: str, params: dict[str, Any] | None,
             body: dict[str, Any] | None, timeout: tuple[float, float], limit: float, limit_name: str,
             hints: Mapping[type[GraphAPIError], str]) -> tuple[Result, float | None]:
    """One HTTP exchange within ``limit`` seconds: its payload or typed error, and Meta's usage figure.

    ``limit_name`` says which limit it is ("the call's time limit", "the cutover's offline
    deadline"), for the error when the call is cut off.
    """
    response: requests.Response | None = None
    failure: BaseException | None = None
    with watched(limit) as watch:
        try:
            response = session.request(method, target, params=params, json=body, timeout=timeout,
                                       allow_redirects=False)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            failure = exc
    if watch.fired:  # whatever was read before the cut is not an answer
        return RequestTimeout(f"{urlsplit(target).netloc}: no complete answer within {limit:.3g} s "
                              f"({limit_name}), so the connection was closed", method=method, path=path), None
    if failure is not None or response is None:
        assert failure is not None
        return network_error(failure, target=target, method=method, path=path), None
    return answer(response, method, path, hints), usage_percent(response)
