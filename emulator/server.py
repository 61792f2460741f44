"""HTTP front end of the emulator: the HTTP/1.1 server on a bounded pool of connection threads
(pool.py), and the per-request machinery around Graph calls (the local-client guard, latency,
injected faults, the redacted call log, usage headers).

Graph calls go to graph.py, control calls to control.py; both reach the shared state only
through `State` methods or under `State.lock`.
"""

from __future__ import annotations

import io
import json
import select
import socket
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from . import control, graph, guard
from .errors import GraphError
from .knobs import Options
from .pool import DEFAULT_THREADS, REQUEST_READ_SECONDS, ConnectionPool
from .request import INVALID_BODY, ApiRequest
from .state import State
from .wire import BadRequest, Body, parse_body, read_body, single

LINGER_SECONDS = 0.002  # how long a worker waits for a kept-alive connection's next request

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


class EmulatorServer(HTTPServer):
    allow_reuse_address = True
    request_queue_size = 1024  # a burst of connections waits in the kernel, not in SYN retries

    def __init__(self, address: tuple[str, int], state: State, threads: int = DEFAULT_THREADS) -> None:
        self.pool = ConnectionPool(threads)
        try:
            super().__init__(address, Handler)
        except BaseException:
            self.pool.stop()
            raise
        self.pool.name = f"emulator-{self.server_address[1]}"  # the port, once bound
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """No thread per connection: the pool keeps it until it speaks, then lends it a worker."""
        self.pool.adopt(request, lambda: Handler(request, client_address, self))

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.pool.stop()


def make_server(host: str = "127.0.0.1", port: int = 8787, *, seed: str | None = "demo",
                state_file: str | None = None, threads: int = DEFAULT_THREADS,
                **options: Any) -> EmulatorServer:
    state = State(seed=seed, state_file=state_file, options=Options.make(**options))
    return EmulatorServer((host, port), state, threads)


class PooledHandler(BaseHTTPRequestHandler):
    """A connection the pool serves one burst at a time, instead of a thread that waits on it."""

    protocol_version = "HTTP/1.1"
    server_version = "WhatsAppGraphEmulator/1.0"
    timeout = REQUEST_READ_SECONDS  # while a request is being read; idle waits cost no thread
    server: EmulatorServer

    def __init__(self, request: socket.socket, client_address: Any, server: EmulatorServer) -> None:
        # Not BaseRequestHandler's constructor, which serves the whole connection at once: the
        # pool calls serve_ready() each time the connection has something to read.
        self.request = request
        self.client_address = client_address
        self.server = server
        self.setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def serve_ready(self) -> bool:
        """Serve the requests that have arrived; True when the connection stays open, idle."""
        while True:
            self.close_connection = True
            self.handle_one_request()
            if self.close_connection:
                return False
            if not self._buffered() and not self._next_soon():
                return True

    def _buffered(self) -> bool:
        """Whether the next request's bytes are already here (pipelined), without waiting."""
        if not isinstance(self.rfile, io.BufferedReader):
            return False
        timeout = self.connection.gettimeout()
        self.connection.settimeout(0.0)
        try:
            return bool(self.rfile.peek(1))
        except (OSError, ValueError):
            return False
        finally:
            self.connection.settimeout(timeout)

    def _next_soon(self) -> bool:
        """Whether the client sends its next request within a moment: most send one right after
        an answer, and serving it here saves the hand-over to the selector thread and back."""
        try:
            return bool(select.select([self.connection], [], [], LINGER_SECONDS)[0])
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        try:
            self.finish()
        except OSError:
            pass
        self.server.shutdown_request(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version


class Handler(PooledHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        is_control = url.path == control.CONTROL_PREFIX or url.path.startswith(control.CONTROL_PREFIX + "/")
        body = Body(self.server.pool.budget)
        try:
            read_body(self.rfile, self.headers, body)
        except BadRequest as err:
            # The stream is out of step with the framing (or not read at all): answer, then close.
            body.release()
            self.close_connection = True
            if is_control:
                self._send(err.status, {"error": {"message": str(err)}})
            else:
                code = 2 if err.status == 503 else 100
                self._send(err.status, GraphError(code, str(err), status=err.status).envelope())
            return
        try:
            refusal = guard.refusal("control API" if is_control else "Graph API", self.headers.get("Host"),
                                    self.headers.get("Origin"), str(self.server.server_address[0]))
            if refusal is not None:
                self._refuse(refusal, is_control)
            elif is_control:
                self._control(url, body.data)
            else:
                self._api(url, body.data)
        finally:
            body.release()

    do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

    # plumbing
    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              business_id: str | None = None) -> None:
        data = json.dumps(body).encode()
        usage = {name: json.dumps(value, separators=(",", ":"))
                 for name, value in self.server.state.usage_headers(business_id).items()}
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in {**usage, **(headers or {})}.items():
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

    def _refuse(self, message: str, is_control: bool) -> None:
        """403 for a call from a foreign page: nothing is read, logged or changed."""
        self.close_connection = True
        body = {"error": {"message": message}} if is_control else GraphError(10, message).envelope()
        self._send(403, body)

    def _token(self, query: dict[str, str], body: Any) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip():
            return auth[7:].strip()
        if query.get("access_token"):
            return query["access_token"]
        token = body.get("access_token") if isinstance(body, dict) else None
        return token if isinstance(token, str) else None

    # Graph API
    def _api(self, url: urllib.parse.SplitResult, raw: bytes) -> None:
        state = self.server.state
        method = self.command.upper()
        version, path = graph.split_version(url.path)
        query = single(urllib.parse.parse_qs(url.query, keep_blank_values=True))
        body = parse_body(raw, self.headers.get("Content-Type", ""))
        entry: dict[str, Any] = {
            "method": method, "path": path, "version": version, "served_version": None,
            "query": redact(query), "body": "<unparseable>" if body is INVALID_BODY else redact(body),
            "status": None, "code": None, "started": state.now(), "finished": None, "fault": None}
        host = self.headers.get("Host") or "%s:%s" % (str(self.server.server_address[0]), self.server.server_address[1])
        req = ApiRequest(method=method, path=path, version=version, query=query, body=body,
                         token=self._token(query, body), base_url=f"http://{host}")
        fallback_business = state.business_id_for(next((s for s in path.split("/") if s), None))

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
            if self._fault_answer(fault, entry, fallback_business, generation):
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
        business_id = req.business_id or fallback_business
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
