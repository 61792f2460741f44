"""Command line entry point: `python -m emulator [--host H] [--port P] [--seed demo] ...`.

Prints exactly one line, `emulator listening on http://HOST:PORT`, then serves until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .seed import DEFAULT_TOKEN, SEEDS
from .server import make_server


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulator",
                                description="Local WhatsApp Cloud API (Graph API) emulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    p.add_argument("--seed", default="demo", choices=SEEDS,
                   help="initial numbers (ignored when --state names an existing file)")
    p.add_argument("--state", metavar="FILE", help="load from and save to this JSON file")
    p.add_argument("--token", action="append", dest="tokens", metavar="TOKEN",
                   help=f"accepted access token (repeatable; default {DEFAULT_TOKEN})")
    p.add_argument("--latency-ms", type=float, default=0, help="added to every API request")
    p.add_argument("--deregister-keeps-storage", action="store_true",
                   help="deregister leaves local storage as it was (default: clears it to DEFAULT)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        server = make_server(args.host, args.port, seed=args.seed,
                             tokens=tuple(args.tokens or (DEFAULT_TOKEN,)),
                             latency_ms=args.latency_ms,
                             deregister_keeps_storage=args.deregister_keeps_storage,
                             state_file=args.state)
    except (OSError, ValueError) as err:
        print(f"emulator: cannot start: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    print(f"emulator listening on {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
