"""Bounded connection handling: a ceiling of worker threads, idle connections that cost none,
and a budget of request-body bytes held at once.

A thread per connection (the standard library's ThreadingHTTPServer) let 400 slow connections
make 402 threads and 60 pending 1 MiB bodies hold 104 MB. Here a connection waits in one
selector thread until bytes arrive; only then does a worker (at most `max_threads`, started as
needed) read and answer one request, and hand a kept-alive connection back to the selector.
When every worker is busy, up to `max_threads` more connections wait in line; beyond that, and
beyond `MAX_OPEN_CONNECTIONS` open connections, the connection gets a 503 at once and is closed.
`BodyBudget` caps the request-body bytes that reads in progress may hold (server.py answers 503
past it). Every bound is a choice: Meta states none.
"""

from __future__ import annotations

import json
import queue
import selectors
import socket
import threading
import time
from typing import Callable, Protocol

from .errors import GraphError

DEFAULT_THREADS = 64            # the least the emulator accepts: the CLI reads with many workers
MAX_THREADS = 4096
MAX_OPEN_CONNECTIONS = 1024     # open sockets, idle ones included
MAX_PENDING_BODY_BYTES = 16 << 20
IDLE_SECONDS = 120.0            # an idle keep-alive connection is closed after this long
REQUEST_READ_SECONDS = 30.0     # a request whose next bytes take longer than this is dropped


class Connection(Protocol):
    connection: socket.socket

    def serve_ready(self) -> bool:
        """Serve the requests that have arrived; True when the connection stays open, idle."""

    def close(self) -> None: ...


def threads_value(value: object) -> int:
    """A worker ceiling the server can run; ValueError names the rule."""
    if not isinstance(value, int) or isinstance(value, bool) or not DEFAULT_THREADS <= value <= MAX_THREADS:
        raise ValueError(f"threads must be a whole number from {DEFAULT_THREADS} to {MAX_THREADS}")
    return value


def refuse(sock: socket.socket, message: str) -> None:
    """Answer 503 without reading the request: the server is at one of its bounds. The caller
    closes the connection."""
    body = json.dumps(GraphError(2, message, status=503).envelope()).encode()
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
    try:
        sock.settimeout(1.0)
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        # Read what the client already sent: closing with unread bytes would reset the connection
        # and could discard the answer before the client reads it.
        sock.settimeout(0.0)
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass


class BodyBudget:
    """Request-body bytes that requests being read may hold at once."""

    def __init__(self, limit: int = MAX_PENDING_BODY_BYTES) -> None:
        self.limit = limit
        self.used = 0
        self.high_water = 0  # the most ever held at once: what the bound guarantees
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            self.high_water = max(self.high_water, self.used)
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.used -= size


class ConnectionPool:
    def __init__(self, max_threads: int = DEFAULT_THREADS, name: str = "emulator") -> None:
        self.max_threads = threads_value(max_threads)
        self.budget = BodyBudget()
        self.name = name
        self._lock = threading.Lock()
        self._work: queue.Queue[Connection | None] = queue.Queue()
        self._waiting = 0                       # connections in the queue, not yet taken
        self._idle_workers = 0
        self._workers: list[threading.Thread] = []
        self._open: set[Connection] = set()
        self._parked: list[Connection] = []     # handed back by workers, for the selector
        self._idle_since: dict[Connection, float] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full wake-up buffer already wakes the selector
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self._watcher = threading.Thread(target=self._watch, name="emulator-selector", daemon=True)
        self._watcher.start()

    @property
    def threads(self) -> int:
        with self._lock:
            return len(self._workers)

    def adopt(self, sock: socket.socket, make: Callable[[], Connection]) -> None:
        """A new connection from the accept loop: it waits in the selector until it speaks."""
        with self._lock:
            full = self._closed or len(self._open) >= MAX_OPEN_CONNECTIONS
        if full:
            refuse(sock, f"emulator busy: {MAX_OPEN_CONNECTIONS} connections are open; retry shortly")
            sock.close()
            return
        conn = make()
        with self._lock:
            self._open.add(conn)
        self._park(conn)

    def _park(self, conn: Connection) -> None:
        with self._lock:
            self._parked.append(conn)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _watch(self) -> None:
        """The selector thread: parks idle connections, dispatches readable ones, closes stale ones."""
        last_sweep = time.monotonic()
        while not self._closed:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                self._selector.unregister(key.fileobj)
                self._idle_since.pop(key.data, None)
                self._dispatch(key.data)
            with self._lock:
                parked, self._parked = self._parked, []
            now = time.monotonic()
            for conn in parked:
                try:
                    self._selector.register(conn.connection, selectors.EVENT_READ, conn)
                    self._idle_since[conn] = now
                except (OSError, ValueError, KeyError):
                    self._close(conn)
            if now - last_sweep >= 1.0:
                last_sweep = now
                for conn, since in list(self._idle_since.items()):
                    if now - since > IDLE_SECONDS:
                        self._unpark(conn)
                        self._close(conn)

    def _unpark(self, conn: Connection) -> None:
        self._idle_since.pop(conn, None)
        try:
            self._selector.unregister(conn.connection)
        except (KeyError, ValueError, OSError):
            pass

    def _dispatch(self, conn: Connection) -> None:
        with self._lock:
            free = self._idle_workers > self._waiting
            if not free and len(self._workers) < self.max_threads:
                worker = threading.Thread(target=self._work_loop, daemon=True,
                                          name=f"{self.name}-worker-{len(self._workers)}")
                self._workers.append(worker)
                worker.start()
                free = True
            busy = not free and self._waiting >= self.max_threads
            if not busy:
                self._waiting += 1
        if busy:
            refuse(conn.connection, f"emulator busy: all {self.max_threads} connection threads are "
                                    f"serving and {self.max_threads} more connections wait; retry shortly")
            self._close(conn)
            return
        self._work.put(conn)

    def _work_loop(self) -> None:
        while True:
            with self._lock:
                self._idle_workers += 1
            conn = self._work.get()
            with self._lock:
                self._idle_workers -= 1
                if conn is not None:
                    self._waiting -= 1
            if conn is None:
                return
            try:
                keep = conn.serve_ready() and not self._closed
            except Exception:  # a broken connection must not take its worker with it
                keep = False
            if keep:
                self._park(conn)
            else:
                self._close(conn)

    def _close(self, conn: Connection) -> None:
        with self._lock:
            self._open.discard(conn)
        try:
            conn.close()
        except OSError:
            pass

    def stop(self) -> None:
        """Close every connection (so a stopped emulator looks stopped) and end the threads."""
        with self._lock:
            self._closed = True
            conns = list(self._open)
            workers = len(self._workers)
        for conn in conns:
            try:
                conn.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _ in range(workers):
            self._work.put(None)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._watcher.join(timeout=5)
        for conn in conns:
            self._unpark(conn)
            self._close(conn)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
