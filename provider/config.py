"""Provider configuration: stack config wins over the environment; validated in one place."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redact import register_secret

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
FIRST_SETTINGS_FLOW_VERSION = 21

# (stack config key, environment variable)
KEYS = {
    "access_token": ("whatsapp:accessToken", "WHATSAPP_ACCESS_TOKEN"),
    "graph_api_url": ("whatsapp:graphApiUrl", "WHATSAPP_GRAPH_API_URL"),
    "api_version": ("whatsapp:apiVersion", "WHATSAPP_API_VERSION"),
    "max_concurrent_cutovers": ("whatsapp:maxConcurrentCutovers", "WHATSAPP_MAX_CONCURRENT_CUTOVERS"),
}

_VERSION = re.compile(r"^v(\d+)\.(\d+)$")
_warned_versions: set[str] = set()


@dataclass(frozen=True)
class ProviderConfig:
    """Everything the client and executor need to reach Meta. Never pickled with the provider."""

    access_token: str | None = field(default=None, repr=False)
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    api_version: str = DEFAULT_API_VERSION
    max_concurrent_cutovers: int = 1

    @classmethod
    def load(cls, stack: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> "ProviderConfig":
        """Read each key from stack config (fully qualified, e.g. ``whatsapp:accessToken``), else the environment."""
        stack = stack or {}
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, (key, var) in KEYS.items():
            value = stack.get(key)
            if value in (None, ""):
                value = env.get(var)
            if value not in (None, ""):
                values[name] = value
        return cls.parse(values)

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> "ProviderConfig":
        token = values.get("access_token")
        token = str(token).strip() if token is not None else None
        register_secret(token)
        url = str(values.get("graph_api_url") or DEFAULT_GRAPH_API_URL).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"whatsapp:graphApiUrl {url!r} is not an http(s) URL; "
                f"set it (or WHATSAPP_GRAPH_API_URL) to e.g. {DEFAULT_GRAPH_API_URL}"
            )
        version = str(values.get("api_version") or DEFAULT_API_VERSION).strip()
        if not version.startswith("v"):
            version = "v" + version
        if not _VERSION.match(version):
            raise ConfigurationError(
                f"whatsapp:apiVersion {values.get('api_version')!r} is not a Graph API version; "
                f"use the form {DEFAULT_API_VERSION}"
            )
        raw_max = values.get("max_concurrent_cutovers", 1)
        try:
            max_cutovers = int(str(raw_max).strip())
        except ValueError:
            max_cutovers = 0
        if max_cutovers < 1:
            raise ConfigurationError(
                f"whatsapp:maxConcurrentCutovers {raw_max!r} must be a whole number of at least 1"
            )
        config = cls(token or None, url, version, max_cutovers)
        config._warn_if_retired()
        return config

    @property
    def major_version(self) -> int:
        match = _VERSION.match(self.api_version)
        assert match
        return int(match.group(1))

    @property
    def settings_flow(self) -> bool:
        """v21.0+ change storage through /settings; earlier versions through register."""
        return self.major_version >= FIRST_SETTINGS_FLOW_VERSION

    def require_token(self) -> str:
        if not self.access_token:
            raise ConfigurationError(
                "no access token: set the secret stack config whatsapp:accessToken "
                "(pulumi config set --secret whatsapp:accessToken ...) or WHATSAPP_ACCESS_TOKEN"
            )
        return self.access_token

    def _warn_if_retired(self) -> None:
        if self.settings_flow or self.api_version in _warned_versions:
            return
        _warned_versions.add(self.api_version)
        print(
            f"whatsapp: notice: apiVersion {self.api_version} uses the old register flow. Meta retired "
            "v20.0 on 2026-09-24 and answers retired versions as the oldest live one, so calls may "
            "not behave as this version documents. Use v21.0 or later unless you know why not.",
            file=sys.stderr,
        )
