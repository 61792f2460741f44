"""A handle on a running emulator for tests and benchmarks.

`start_emulator()` runs one in-process (the HTTP server on a free port in a daemon thread,
fast enough to start per test) or as a subprocess (`python -m emulator --port 0`). The returned
`Emulator` drives the control API over HTTP with the standard library only (no proxy settings
apply to it).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import queue
import subprocess as _subprocess
import sys
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any, Iterable

from .knobs import Options
from .limits import DEFAULT_PAGE_SIZE
from .pool import DEFAULT_THREADS
from .seed import APP_SECRET_ENV, DEFAULT_TOKEN

if TYPE_CHECKING:
    from .server import EmulatorServer

_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EmulatorControlError(RuntimeError):
    pass


class Emulator:
    """A running emulator: `url`, the first accepted `token`, and control-API helpers."""

    def __init__(self, url: str, token: str, *, server: EmulatorServer | None = None,
                 thread: threading.Thread | None = None,
                 process: _subprocess.Popen[str] | None = None) -> None:
        self.url = url
        self.token = token
        self._server = server
        self._thread = thread
        self._process = process
        parts = urllib.parse.urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port

    def __repr__(self) -> str:
        return f"<Emulator {self.url}>"

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _control(self, method: str, path: str, body: object = None) -> Any:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, "/_emulator" + path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = json.loads(resp.read() or b"null")
        finally:
            conn.close()
        if resp.status >= 400:
            message = payload.get("error", {}).get("message") if isinstance(payload, dict) else payload
            raise EmulatorControlError(f"{method} /_emulator{path}: HTTP {resp.status}: {message}")
        return payload

    def reset(self, seed: str | None = "demo") -> None:
        self._control("POST", "/reset", {"seed": seed} if seed else {})

    def numbers(self) -> list[dict[str, Any]]:
        return list(self._control("GET", "/numbers"))

    def number(self, id: str) -> dict[str, Any]:
        return dict(self._control("GET", f"/numbers/{id}"))

    def add_number(self, **fields: Any) -> dict[str, Any]:
        return dict(self._control("POST", "/numbers", fields))

    def patch(self, id: str, **fields: Any) -> dict[str, Any]:
        return dict(self._control("PATCH", f"/numbers/{id}", fields))

    def delete_number(self, id: str) -> None:
        self._control("DELETE", f"/numbers/{id}")

    def fault(self, method: str, path: str, **kw: Any) -> None:
        self._control("POST", "/faults", {"method": method, "path": path, **kw})

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def set_latency(self, ms: float) -> None:
        self._control("POST", "/latency", {"ms": ms})

    def set_page_size(self, size: int) -> None:
        """Numbers per listing page when a call gives no `limit` (back to the start-up value on reset)."""
        self._control("POST", "/page_size", {"size": size})

    def pin_matches(self, id: str, pin: str) -> bool:
        """Whether `pin` is the number's two-step PIN: the control API never shows a PIN."""
        return bool(self._control("POST", f"/numbers/{id}/pin_check", {"pin": pin})["matches"])

    def set_usage(self, percent: int | None) -> None:
        self._control("POST", "/usage", {"percent": percent})

    def set_app_secret(self, secret: str | None) -> None:
        """Require `appsecret_proof` on every Graph call (keyed by `secret`), or stop with None."""
        self._control("POST", "/app_secret", {"secret": secret})

    def reject_fields(self, names: Iterable[str]) -> None:
        """Make these phone number fields "nonexisting", as if Meta dropped them; [] undoes it."""
        self._control("POST", "/fields", {"reject": list(names)})

    def set_rate_limit(self, calls_per_hour: int | None, waba_id: str | None = None) -> dict[str, Any]:
        """Meta's hourly business-use-case limit: N calls for every business account, or for one
        (`None`: back to Meta's 200, or 5,000 with a registered number). Answers the usage."""
        body: dict[str, Any] = {"calls_per_hour": calls_per_hour}
        if waba_id is not None:
            body["waba_id"] = waba_id
        return dict(self._control("POST", "/rate_limit", body))

    def enable_rate_limit(self, enabled: bool) -> None:
        """Count calls against Meta's hourly limit, or not (until the next reset)."""
        self._control("POST", "/rate_limit", {"enabled": enabled})

    def rate_limits(self) -> dict[str, Any]:
        """The limits in force and each business account's calls in the last hour."""
        return dict(self._control("GET", "/rate_limit"))

    def calls(self) -> list[dict[str, Any]]:
        return list(self._control("GET", "/calls"))

    def clear_calls(self) -> None:
        self._control("DELETE", "/calls")

    def advance(self, seconds: float) -> None:
        self._control("POST", "/clock", {"advance_seconds": seconds})

    def now(self) -> float:
        return float(self._control("GET", "/clock")["now"])

    @property
    def server(self) -> EmulatorServer | None:
        """The in-process server (None for a subprocess emulator): its connection pool for tests."""
        return self._server

    @property
    def pid(self) -> int | None:
        """The process of a subprocess emulator (None in-process)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
        if self._process is not None:
            proc, self._process = self._process, None
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except _subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stdout:
                proc.stdout.close()


def start_emulator(*, seed: str | None = "demo", tokens: Iterable[str] = (DEFAULT_TOKEN,),
                   latency_ms: float = 0, deregister_keeps_storage: bool = False,
                   state_file: str | os.PathLike[str] | None = None,
                   subprocess: bool = False, host: str = "127.0.0.1",
                   app_secret: str | None = None, page_size: int = DEFAULT_PAGE_SIZE,
                   register_accepts_region: bool = False, lowercase_statuses: bool = False,
                   rate_limit: bool = True, threads: int = DEFAULT_THREADS) -> Emulator:
    """Start an emulator; `app_secret` requires appsecret_proof on every Graph call from the start.
    The other options are `python -m emulator`'s (emulator/README.md)."""
    options = Options.make(tokens=tokens, latency_ms=latency_ms, page_size=page_size,
                           app_secret=app_secret, deregister_keeps_storage=deregister_keeps_storage,
                           register_accepts_region=register_accepts_region,
                           lowercase_statuses=lowercase_statuses, rate_limit=rate_limit)
    if subprocess:
        return _start_subprocess(seed, options, state_file, host, threads)
    from .server import make_server

    server = make_server(host, 0, seed=seed, state_file=os.fspath(state_file) if state_file else None,
                         threads=threads, **dataclasses.asdict(options))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"emulator-{server.server_address[1]}", daemon=True)
    thread.start()
    return Emulator(server.url, options.tokens[0], server=server, thread=thread)


def _start_subprocess(seed: str | None, options: Options, state_file: str | os.PathLike[str] | None,
                      host: str, threads: int) -> Emulator:
    cmd = [sys.executable, "-m", "emulator", "--host", host, "--port", "0", "--seed", seed or "none",
           "--latency-ms", str(options.latency_ms), "--page-size", str(options.page_size),
           "--threads", str(threads)]
    for token in options.tokens:
        cmd += ["--token", token]
    flags = {"--deregister-keeps-storage": options.deregister_keeps_storage,
             "--register-accepts-region": options.register_accepts_region,
             "--lowercase-statuses": options.lowercase_statuses}
    cmd += [flag for flag, on in flags.items() if on]
    cmd += ["--rate-limit", "on" if options.rate_limit else "off"]
    if state_file:
        cmd += ["--state", os.fspath(state_file)]
    env = dict(os.environ)
    env["PYTHONPATH"] = _PROJECT_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop(APP_SECRET_ENV, None)
    if options.app_secret:
        # Through the environment, not argv: a command line is visible to every local user.
        env[APP_SECRET_ENV] = options.app_secret
    proc = _subprocess.Popen(cmd, stdout=_subprocess.PIPE, stdin=_subprocess.DEVNULL,
                             env=env, cwd=_PROJECT_ROOT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=30)
    except queue.Empty:
        first = ""
    prefix = "emulator listening on "
    if not first.startswith(prefix):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"emulator did not start (exit code {proc.returncode}, first line {first!r})")
    return Emulator(first[len(prefix):].strip(), options.tokens[0], process=proc)
