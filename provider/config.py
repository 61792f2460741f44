"""Provider configuration: stack config wins over the environment; validated in one place.

Owns where the credentials may go (``graph.facebook.com`` over https, or a loopback address for
the emulator, or a host the *environment* allows) and where they came from, so that an error
about the token can name the fix for that source. What a person should be told about the
configuration (the API version Meta really serves, a stack value that overrides a different
environment value) is kept on it as ``notices``: the code that holds the process prints them once.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import clock, versions
from .errors import ConfigurationError
from .notices import Notice
from .redact import register_secret

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
# A notice when the configured version (or the one Meta serves for it) ends within this many days.
VERSION_ENDS_NOTICE_DAYS = 90
META_GRAPH_HOST = "graph.facebook.com"
# Read from the environment only: a pull request that edits a stack file must not be able to
# send the token anywhere.
ALLOW_HOST_VAR = "WHATSAPP_ALLOW_GRAPH_HOST"

# (stack config key, environment variable)
KEYS = {
    "access_token": ("whatsapp:accessToken", "WHATSAPP_ACCESS_TOKEN"),
    "graph_api_url": ("whatsapp:graphApiUrl", "WHATSAPP_GRAPH_API_URL"),
    "api_version": ("whatsapp:apiVersion", "WHATSAPP_API_VERSION"),
    "max_concurrent_cutovers": ("whatsapp:maxConcurrentCutovers", "WHATSAPP_MAX_CONCURRENT_CUTOVERS"),
    "app_secret": ("whatsapp:appSecret", "WHATSAPP_APP_SECRET"),
}
SECRET_SETTINGS = ("access_token", "app_secret")


@dataclass(frozen=True)
class Source:
    """Where a secret setting came from: ``stack``, ``env``, ``none``, or ``given`` (by code).

    ``stack_origin`` names the stack config: the engine's (``configure``) or a stack file read
    by the command line, where the value is a plain, unencrypted one.
    """

    kind: str = "given"
    stack_origin: str = ""

    def describe(self, setting: str) -> str:
        key, var = KEYS[setting]
        if self.kind == "stack":
            return f"the plain value of {key} in {self.stack_origin}" if self.stack_origin else \
                f"the stack config {key}"
        if self.kind == "env":
            return f"the environment variable {var}"
        return f"{key} / {var}"


def _token_fix(source: Source) -> str:
    """The fix for a token from ``source``. One story everywhere: the token belongs in the environment
    (WHATSAPP_ACCESS_TOKEN, a CI secret), never in the stack file; a stack value wins over it."""
    key, var = KEYS["access_token"]
    if source.kind == "stack" and source.stack_origin:
        return (f"put a valid token in {var} (the environment, e.g. a CI secret) and remove the plain value from "
                f"{source.stack_origin} (`pulumi config rm {key}`) so that {var} is used: a token never belongs in "
                "the stack file")
    if source.kind == "stack":
        return (f"put a valid token in {var} and remove {key} from the stack config (`pulumi config rm {key}`) so "
                f"that {var} is used, or replace it with `pulumi config set --secret {key}`. `pulumi refresh` and "
                "`pulumi destroy` use the configuration saved in state: save the current one with `pulumi up` (while "
                "the program declares a number), or pass --run-program")
    if source.kind == "env":
        return (f"export a valid token in {var} (a {key} in the stack config would win over it: remove it with "
                f"`pulumi config rm {key}`)")
    return f"set {var} in the environment (e.g. a CI secret); keep the token out of the stack file"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(env: Mapping[str, str]) -> frozenset[str]:
    """Host names listed in WHATSAPP_ALLOW_GRAPH_HOST (comma-separated)."""
    return frozenset(h.strip().lower() for h in env.get(ALLOW_HOST_VAR, "").split(",") if h.strip())


_CHAR_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space"}


def _odd_character(text: str) -> str | None:
    """The first character of ``text`` that is not printable ASCII without spaces, described (not shown raw)."""
    for position, char in enumerate(text, 1):
        if not "!" <= char <= "~":
            name = _CHAR_NAMES.get(char) or ("a control character" if char.isascii() else "a non-ASCII character")
            return f"{name} (U+{ord(char):04X}) at position {position} of {len(text)}"
    return None


def check_credential(value: str, setting: str, source: "Source") -> None:
    """Refuse a token or app secret with a space, line break, quote mark or other character no credential has.

    It would end up in an HTTP header (a traceback from the HTTP stack, or an error that prints
    the token's tail after the line break), so it is refused here, and the error shows neither
    the value nor any part of it.
    """
    odd = _odd_character(value)
    if odd is None:
        return
    what = "access token" if setting == "access_token" else "app secret"
    raise ConfigurationError(
        f"the {what} from {source.describe(setting)} contains {odd}: a credential is one line of letters, "
        "digits and punctuation with no spaces, line breaks or typographic quotes. Copy it again as plain "
        "text (the value is not shown here)")


def check_graph_url(url: str, allowed: frozenset[str], source: "Source | None" = None) -> None:
    """Refuse a Graph URL that the token and appsecret_proof must not be sent to.

    The URL checked is the URL used: a tab, line break or any character outside printable ASCII is
    refused (``urlsplit`` drops tabs and line breaks that the HTTP stack would not), so the host
    parsed here is the host connected to. ``source`` says where the URL came from, for the error.
    """
    key, var = KEYS["graph_api_url"]
    where = source.describe("graph_api_url") if source is not None else key
    odd = _odd_character(url)
    if odd is not None:
        raise ConfigurationError(f"{where} {url!r} contains {odd}: write the URL with no spaces or "
                                 f"control characters, e.g. {DEFAULT_GRAPH_API_URL}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{where} {url!r} is not a valid URL ({exc}); "
                                 f"set it to e.g. {DEFAULT_GRAPH_API_URL}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{where} {url!r} is not an http(s) URL; "
                                 f"set {key} (or {var}) to e.g. {DEFAULT_GRAPH_API_URL}")
    if "@" in parts.netloc:
        raise ConfigurationError(f"{where} {url!r} must not carry credentials: requests would send them instead of "
                                 "the access token. Put proxy credentials in HTTPS_PROXY")
    host = parts.hostname
    if is_loopback(host):
        return  # the emulator: plain http is fine, reached directly (the client never uses a proxy for it)
    if host != META_GRAPH_HOST and host not in allowed:
        raise ConfigurationError(
            f"{where} {url!r} is refused: the access token and appsecret_proof are sent only to "
            f"{DEFAULT_GRAPH_API_URL} or a loopback address (the emulator), so that a change to a stack file "
            f"cannot send them elsewhere. To use {host} (e.g. your organisation's gateway), name it in the "
            f"environment: {ALLOW_HOST_VAR}={host} (comma-separated host names; https only; stack config cannot "
            "allow a host)")
    if parts.scheme != "https":
        raise ConfigurationError(f"{where} {url!r} is refused: plain http would send the access token unencrypted; "
                                 f"use https://{parts.netloc} (http is allowed only to a loopback address)")
    if host == META_GRAPH_HOST and port not in (None, 443):
        raise ConfigurationError(f"{where} {url!r} is refused: Meta's Graph API answers on port 443 only; "
                                 f"use {DEFAULT_GRAPH_API_URL}")


def _clock_today() -> datetime.date:
    return clock.now().date()


@dataclass(frozen=True)
class ProviderConfig:
    """Everything the client and executor need to reach Meta. Never pickled, with the provider or alone."""

    access_token: str | None = field(default=None, repr=False)
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    api_version: str = DEFAULT_API_VERSION
    max_concurrent_cutovers: int = 1
    app_secret: str | None = field(default=None, repr=False)
    token_source: Source = Source()
    app_secret_source: Source = Source()
    allowed_hosts: frozenset[str] = frozenset()
    # The UTC day the configuration is for: which version Meta serves for api_version depends on it.
    today: datetime.date = field(default_factory=_clock_today)
    graph_api_url_source: Source = Source()
    # What to tell a person once per process (not part of the configuration's identity).
    notices: tuple[Notice, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Here, not in parse(): no way of building a config skips the checks.
        check_graph_url(self.graph_api_url, self.allowed_hosts, self.graph_api_url_source)
        if self.access_token is not None:
            check_credential(self.access_token, "access_token", self.token_source)
        if self.app_secret is not None:
            check_credential(self.app_secret, "app_secret", self.app_secret_source)

    def __reduce__(self) -> Any:
        raise TypeError("ProviderConfig holds credentials and is never pickled; build it with ProviderConfig.load()")

    @classmethod
    def load(cls, stack: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
             *, stack_origin: str = "", today: Callable[[], datetime.date] | None = None) -> "ProviderConfig":
        """Read each key from stack config (fully qualified, e.g. ``whatsapp:accessToken``), else the environment.

        ``stack_origin`` names the file the stack values were read from, when a command read them
        from a stack file rather than from the engine.
        """
        stack = stack or {}
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, Source] = {}
        notices: list[Notice] = []
        for name, (key, var) in KEYS.items():
            value, kind = stack.get(key), "stack"
            if name == "app_secret" and value is not None and not str(value).strip():
                raise ConfigurationError(f"{key} is set but empty: remove the key and set the app's secret in "
                                         f"{var}, or set it with `pulumi config set --secret {key}`")
            if value is None or not str(value).strip():
                value, kind = env.get(var), "env"
            if name == "app_secret" and value is not None and not str(value).strip():
                raise ConfigurationError(f"{var} is set but empty: set it to the app's secret or unset it")
            present = value is not None and bool(str(value).strip())
            if present:
                values[name] = value
            sources[name] = Source(kind if present else "none", stack_origin)
        for name in SECRET_SETTINGS:
            key, var = KEYS[name]
            from_stack, from_env = stack.get(key), env.get(var)
            if from_stack is not None and str(from_stack).strip() and from_env and from_env.strip() \
                    and str(from_stack).strip() != from_env.strip():
                notices.append(Notice(f"differ:{name}", f"{key} in the stack config and {var} in the environment "
                                                        "differ: the stack value is used (stack config wins over "
                                                        "the environment)"))
        config = cls.parse(values, env=env, token_source=sources["access_token"],
                           app_secret_source=sources["app_secret"], today=today,
                           graph_api_url_source=sources["graph_api_url"])
        return replace(config, notices=(*notices, *config.notices))

    @classmethod
    def parse(cls, values: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
              token_source: Source = Source(), app_secret_source: Source = Source(),
              today: Callable[[], datetime.date] | None = None,
              graph_api_url_source: Source = Source()) -> "ProviderConfig":
        """Validate raw values; ``env`` (default: the process environment) only for WHATSAPP_ALLOW_GRAPH_HOST.

        ``today`` gives the UTC day (default: the provider's one clock, provider/clock.py): the version
        Meta serves depends on it. ``graph_api_url_source`` says where the URL came from, for errors.
        """
        env = os.environ if env is None else env
        token = values.get("access_token")
        token = str(token).strip() if token is not None else None
        register_secret(token)
        secret = values.get("app_secret")
        secret = str(secret).strip() if secret is not None else None
        if secret is not None and not secret:
            raise ConfigurationError("whatsapp:appSecret is set but empty: set the app's secret or remove the key")
        register_secret(secret)
        url = str(values.get("graph_api_url") or DEFAULT_GRAPH_API_URL).strip().rstrip("/")
        version = str(values.get("api_version") or DEFAULT_API_VERSION).strip()
        if not version.startswith("v"):
            version = "v" + version
        try:
            versions.parse(version)  # ASCII digits, matched whole
        except ValueError:
            raise ConfigurationError(
                f"whatsapp:apiVersion {values.get('api_version')!r} is not a Graph API version; "
                f"use the form {DEFAULT_API_VERSION}"
            ) from None
        raw_max = values.get("max_concurrent_cutovers", 1)
        try:
            max_cutovers = int(str(raw_max).strip())
        except ValueError:
            max_cutovers = 0
        if max_cutovers < 1:
            raise ConfigurationError(
                f"whatsapp:maxConcurrentCutovers {raw_max!r} must be a whole number of at least 1"
            )
        config = cls(access_token=token or None, graph_api_url=url, api_version=version,
                     max_concurrent_cutovers=max_cutovers, app_secret=secret, token_source=token_source,
                     app_secret_source=app_secret_source, allowed_hosts=allowed_hosts(env),
                     today=(today or _clock_today)(), graph_api_url_source=graph_api_url_source)
        return replace(config, notices=config._version_notices())

    @property
    def served_version(self) -> str:
        """The version Meta runs for ``api_version`` on ``today``: a retired version is served as the
        oldest live one (docs/graph-api.md, "Versions")."""
        return versions.served(self.api_version, self.today)

    @property
    def settings_flow(self) -> bool:
        """Storage changes through /settings when the version Meta really serves is v21.0+ (today,
        always: v20.0 and earlier are retired); through register on an older served version."""
        return versions.settings_flow(self.served_version)

    def require_token(self) -> str:
        if not self.access_token:
            key, var = KEYS["access_token"]
            origin = self.token_source.stack_origin
            where = f"{key} in {origin}" if origin else f"the stack config {key}"
            raise ConfigurationError(f"no access token: neither {var} nor {where} is set; "
                                     f"{_token_fix(Source('none'))}")
        return self.access_token

    def token_hint(self) -> str:
        """For an error about the token: where it came from, and the fix for that source ("" if unknown)."""
        if self.token_source.kind not in ("stack", "env"):
            return ""
        return f"The token came from {self.token_source.describe('access_token')}: {_token_fix(self.token_source)}"

    def app_secret_hint(self) -> str:
        """For a rejected appsecret_proof: whether a secret is configured, and from where."""
        key, var = KEYS["app_secret"]
        if not self.app_secret:
            return f"No app secret is configured: neither {key} nor {var} is set"
        return (f"The app secret from {self.app_secret_source.describe('app_secret')} does not match the app "
                "that issued the access token")

    def _version_notices(self) -> tuple[Notice, ...]:
        """Which version Meta will really serve, and when the configured one ends soon."""
        notices: list[Notice] = []
        served = self.served_version
        day = self.today.isoformat()
        if served != self.api_version:
            retired = versions.retired_on(self.api_version)
            when = f" on {retired.isoformat()}" if retired else ""
            flow = "/settings" if self.settings_flow else "register"
            notices.append(Notice(
                f"served:{self.api_version}:{served}",
                f"apiVersion {self.api_version} was retired by Meta{when}; on {day} Meta serves it as {served}, "
                f"so this provider plans with {served}'s flow (storage through {flow}). Set apiVersion to "
                f"{served} or later to say so."))
        ends = versions.ends_within(served, self.today, VERSION_ENDS_NOTICE_DAYS)
        if ends is not None:
            after = versions.served(served, ends)
            notices.append(Notice(
                f"ends:{served}:{ends.isoformat()}",
                f"apiVersion {self.api_version}"
                + (f" (served as {served})" if served != self.api_version else "")
                + f": Meta retires {served} on {ends.isoformat()}, {(ends - self.today).days} days after {day}; "
                f"from then on its calls are served as {after}. Move apiVersion to a newer version "
                f"(e.g. {DEFAULT_API_VERSION}) before then."))
        return tuple(notices)
