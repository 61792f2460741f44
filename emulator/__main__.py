"""Command line entry point: `python -m emulator [--host H] [--port P] [--seed demo] ...`.

Prints exactly one line, `emulator listening on http://HOST:PORT`, then serves until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading

from .limits import DEFAULT_PAGE_SIZE, latency_value, page_size_value
from .pool import DEFAULT_THREADS, MAX_THREADS, threads_value
from .seed import APP_SECRET_ENV, DEFAULT_TOKEN, SEED_HELP, SEEDS
from .server import make_server


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every default; an option whose default is None says in its own words what happens."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _latency(text: str) -> float:
    """A delay the server can sleep, bounded as the control API bounds it."""
    try:
        return latency_value(float(text), "--latency-ms")
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


def _page_size(text: str) -> int:
    try:
        return page_size_value(int(text) if re.fullmatch(r"[0-9]{1,3}", text) else None)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


def _threads(text: str) -> int:
    try:
        return threads_value(int(text) if re.fullmatch(r"[0-9]{1,5}", text) else None)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


PROG = "python -m emulator"
CONSOLE_PROG = "whatsapp-local-storage-emulator"  # the installed command (pyproject.toml)


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    width = max(len(name) for name in SEEDS) + 2
    seeds = "\n".join(f"  {name:<{width}}{SEED_HELP[name]}" for name in SEEDS)
    p = argparse.ArgumentParser(prog=prog, formatter_class=_HelpFormatter,
                                description="Local WhatsApp Cloud API (Graph API) emulator. "
                                            "Control API under /_emulator/ (see emulator/README.md).",
                                epilog=f"seeds:\n{seeds}")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8787, help="port to listen on; 0 picks a free port")
    p.add_argument("--seed", default="demo", choices=SEEDS,
                   help="initial numbers (see seeds below); ignored when --state names an existing file")
    p.add_argument("--state", metavar="FILE", default=None,
                   help="load numbers from FILE if it exists and save them to it after every change "
                        "(default: none, numbers live in memory only)")
    p.add_argument("--token", action="append", dest="tokens", metavar="TOKEN", default=None,
                   help=f"accepted access token, repeatable (default: {DEFAULT_TOKEN})")
    p.add_argument("--latency-ms", type=_latency, default=0.0, help="milliseconds added to every Graph call")
    p.add_argument("--page-size", type=_page_size, default=DEFAULT_PAGE_SIZE,
                   help="numbers per page of a business account listing when the call gives no limit "
                        "(Meta's default is 25)")
    p.add_argument("--deregister-keeps-storage", action="store_true",
                   help="deregister leaves local storage as it was instead of clearing it to DEFAULT")
    p.add_argument("--register-accepts-region", action="store_true",
                   help="register takes data_localization_region on v21.0+, as Meta's HTML guide shows "
                        "(Meta's spec and live API refuse it with code 12, which is the default)")
    p.add_argument("--lowercase-statuses", action="store_true",
                   help="answer storage statuses and regions in lower case (in_country_storage_enabled), "
                        "as Meta's Settings reference shows them")
    p.add_argument("--rate-limit", choices=("on", "off"), default="on",
                   help="Meta's hourly business-use-case limit: 200 calls an hour per business account, "
                        "5,000 with a registered number (POST /_emulator/rate_limit changes it)")
    p.add_argument("--threads", type=_threads, default=DEFAULT_THREADS,
                   help=f"connection threads serving requests at once ({DEFAULT_THREADS}-{MAX_THREADS}); "
                        "idle connections use none")
    # The default is not read into argparse: it may come from the environment and must never be printed.
    p.add_argument("--app-secret", metavar="SECRET", default=None,
                   help="require appsecret_proof (HMAC-SHA256 of the token keyed by SECRET) on every "
                        f"Graph call (default: ${APP_SECRET_ENV} if set, else not required)")
    return p


def parse_args(argv: list[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    args = _parser(prog).parse_args(argv)
    args.app_secret = args.app_secret or os.environ.get(APP_SECRET_ENV) or None
    return args


def console() -> None:
    """The ``whatsapp-local-storage-emulator`` console command: usage and errors name it as typed."""
    sys.exit(main(prog=CONSOLE_PROG))


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    try:
        server = make_server(args.host, args.port, seed=args.seed, state_file=args.state,
                             threads=args.threads, tokens=tuple(args.tokens or (DEFAULT_TOKEN,)),
                             latency_ms=args.latency_ms, page_size=args.page_size,
                             deregister_keeps_storage=args.deregister_keeps_storage,
                             register_accepts_region=args.register_accepts_region,
                             lowercase_statuses=args.lowercase_statuses, rate_limit=args.rate_limit == "on",
                             app_secret=args.app_secret)
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
