"""HTTP front end of the emulator: the threaded HTTP/1.1 server and the per-request machinery
around Graph calls (latency, injected faults, the redacted call log, usage headers).

Graph calls go to graph.py, control calls to control.py; both reach the shared state only
through `State` methods or under `State.lock`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import control, graph
from .errors import GraphError
from .limits import MAX_BODY_BYTES, MAX_CHUNK_LINE
from .state import State

# Never logged in clear: a token, a two-step PIN, or a proof derived from the app secret.
_SECRET_KEYS = ("pin", "access_token", "appsecret_proof")
_REDACTED = "***"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_REDACTED if k in _SECRET_KEYS and v is not None else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, Handler)
        self.state = state
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so that a stopped emulator looks stopped."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.close_connections()


def make_server(host: str = "127.0.0.1", port: int = 8787, **state_kwargs: Any) -> EmulatorServer:
    return EmulatorServer((host, port), State(**state_kwargs))


def _single(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in query.items()}


class BadRequest(Exception):
    """A request whose framing or size the server refuses (answered, then the connection closes)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(value: str) -> str | None:
    """The host name of a Host header value (`name`, `name:port`, `[v6]:port`); None if malformed."""
    try:
        return urllib.parse.urlsplit("//" + value.strip()).hostname
    except ValueError:
        return None


def control_refusal(host_header: str | None, origin: str | None, bind_host: str) -> str | None:
    """Why a control call must be refused (None: it may proceed).

    The control API changes the emulator's world without a token, so only a local client may use
    it: the Host must name a loopback address or the address the server is bound to (a DNS
    rebinding page sends its own name), and an Origin, which browsers add to cross-site requests,
    must be such a host too (a CSRF page sends its own).
    """
    def local(host: str | None) -> bool:
        return host is not None and (_loopback_name(host) or host == bind_host.lower())

    if host_header is None or not local(_host_of(host_header)):
        return f"control API refused: Host {host_header!r} is not a loopback address or {bind_host}"
    if origin is not None:
        parts = urllib.parse.urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not local(parts.hostname):
            return f"control API refused: Origin {origin!r} is not a local page"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WhatsAppGraphEmulator/1.0"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        is_control = url.path == control.CONTROL_PREFIX or url.path.startswith(control.CONTROL_PREFIX + "/")
        try:
            raw = self._read_body()
        except BadRequest as err:
            # The stream is out of step with the framing: answer, then close the connection.
            self.close_connection = True
            if is_control:
                self._send(err.status, {"error": {"message": str(err)}})
            else:
                self._send(err.status, GraphError(100, str(err), status=err.status).envelope())
            return
        if is_control:
            self._control(url, raw)
        else:
            self._api(url, raw)

    do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

    # plumbing
    def _read_body(self) -> bytes:
        """The request body, within MAX_BODY_BYTES; BadRequest for broken framing or a body too big."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(MAX_CHUNK_LINE + 1)
                size_text = line.split(b";")[0].strip()
                if len(line) > MAX_CHUNK_LINE or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                    raise BadRequest(400, "malformed chunked body: a chunk size must be hexadecimal digits")
                size = int(size_text, 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(MAX_CHUNK_LINE + 1)
                        if trailer in (b"\r\n", b"\n", b""):
                            return b"".join(chunks)
                        if len(trailer) > MAX_CHUNK_LINE:
                            raise BadRequest(400, "malformed chunked body: trailer line too long")
                total += size
                if total > MAX_BODY_BYTES:
                    raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
                data = self.rfile.read(size)
                if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                    raise BadRequest(400, "malformed chunked body: a chunk is shorter than its size")
                chunks.append(data)
        text = self.headers.get("Content-Length")
        if text is None or text.strip() == "":
            return b""
        if not re.fullmatch(r"[0-9]{1,12}", text.strip()):
            raise BadRequest(400, "Content-Length must be a whole number of bytes")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        data = self.rfile.read(length) if length > 0 else b""
        if len(data) != length:
            raise BadRequest(400, "request body shorter than its Content-Length")
        return data

    def _usage_headers(self, business_id: str | None) -> dict[str, str]:
        pct = self.server.state.usage()
        app = {"call_count": pct, "total_cputime": min(pct, 1), "total_time": pct}
        biz = {business_id or "0": [{"type": "whatsapp_business_management", "call_count": pct,
                                     "total_cputime": min(pct, 1), "total_time": pct,
                                     "estimated_time_to_regain_access": 0}]}
        return {"X-App-Usage": json.dumps(app, separators=(",", ":")),
                "X-Business-Use-Case-Usage": json.dumps(biz, separators=(",", ":"))}

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              business_id: str | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in {**self._usage_headers(business_id), **(headers or {})}.items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # Graph API
    def _parse_body(self, raw: bytes) -> Any:
        if not raw.strip():
            return None
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        text = raw.decode("utf-8", "replace")
        if ctype == "application/json" or (ctype != "application/x-www-form-urlencoded"
                                           and text.lstrip()[:1] in ("{", "[")):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                return graph.INVALID_BODY
        return _single(urllib.parse.parse_qs(text, keep_blank_values=True))

    def _token(self, query: dict[str, str], body: Any) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip():
            return auth[7:].strip()
        if query.get("access_token"):
            return query["access_token"]
        token = body.get("access_token") if isinstance(body, dict) else None
        return token if isinstance(token, str) else None

    def _api(self, url: urllib.parse.SplitResult, raw: bytes) -> None:
        state = self.server.state
        method = self.command.upper()
        version, path = graph.split_version(url.path)
        query = _single(urllib.parse.parse_qs(url.query, keep_blank_values=True))
        body = self._parse_body(raw)
        entry: dict[str, Any] = {
            "method": method, "path": path, "version": version, "served_version": None,
            "query": redact(query), "body": "<unparseable>" if body is graph.INVALID_BODY else redact(body),
            "status": None, "code": None, "started": state.now(), "finished": None, "fault": None}
        host = self.headers.get("Host") or "%s:%s" % (str(self.server.server_address[0]), self.server.server_address[1])
        req = graph.ApiRequest(method=method, path=path, version=version, query=query, body=body,
                               token=self._token(query, body), base_url=f"http://{host}")
        business_id = state.business_id_for(next((s for s in path.split("/") if s), None))

        generation, latency_ms = state.begin_request()
        if latency_ms:
            time.sleep(latency_ms / 1000)
        with state.lock:
            if state.generation != generation:
                self._drop()
                return
            fault = state.faults.take(method, path)
        entry["fault"] = fault
        if fault is not None and not fault["apply"]:
            if self._fault_answer(fault, entry, business_id, generation):
                return
        with state.lock:
            if state.generation != generation:
                self._drop()
                return
            headers: dict[str, str] = {}
            try:
                status, response = graph.handle(state, req)
            except GraphError as err:
                status, response, headers = err.status, err.envelope(), dict(err.headers)
        if req.served_known:
            # Like Meta's answers: the version that served the call (a retired one's successor).
            headers.setdefault(graph.SERVED_VERSION_HEADER, req.served)
            entry["served_version"] = req.served
        if fault is not None and fault["apply"]:
            if self._fault_answer(fault, entry, business_id, generation):
                return
        entry["status"] = status
        entry["code"] = response["error"]["code"] if status >= 400 and "error" in response else None
        state.log_call(entry, generation)
        self._send(status, response, headers, business_id)

    def _fault_answer(self, fault: dict[str, Any], entry: dict[str, Any], business_id: str | None,
                      generation: int) -> bool:
        """Apply a fault's delay, drop or error. True when the fault answered the request."""
        if fault["delay_ms"]:
            time.sleep(fault["delay_ms"] / 1000)
        if fault["drop"]:
            self.server.state.log_call(entry, generation)
            self._drop()
            return True
        if fault["code"] is None:
            return False
        err = GraphError(fault["code"], fault["message"] or "Injected fault",
                         subcode=fault["subcode"], status=fault["status"],
                         details=None if fault["error_data"] is not None
                         else "Fault injected by the emulator.",
                         error_data=fault["error_data"])
        headers = {}
        if fault["retry_after"] is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        entry.update(status=err.status, code=err.code)
        self.server.state.log_call(entry, generation)
        self._send(err.status, err.envelope(), headers, business_id)
        return True

    # control API
    def _control(self, url: urllib.parse.SplitResult, raw: bytes) -> None:
        refusal = control_refusal(self.headers.get("Host"), self.headers.get("Origin"),
                                  str(self.server.server_address[0]))
        if refusal is not None:
            self._send(403, {"error": {"message": refusal}})
            return
        try:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError):
                raise control.ControlError(400, "body must be JSON (nested at most a few hundred levels)") from None
            if not isinstance(body, dict):
                raise control.ControlError(400, "body must be a JSON object")
            path = url.path[len(control.CONTROL_PREFIX):].rstrip("/") or "/"
            status, response = control.route(self.server.state, self.command.upper(), path, body)
        except control.ControlError as err:
            status, response = err.status, {"error": {"message": str(err)}}
        except ValueError as err:
            status, response = 400, {"error": {"message": str(err)}}
        self._send(status, response)
