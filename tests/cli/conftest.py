"""Fixtures of the CLI tests: a temporary project whose stack file points at the emulator, and no
WHATSAPP_* variable leaking in from the environment."""

from __future__ import annotations

import os

import pytest
import yaml


@pytest.fixture(autouse=True)
def _no_whatsapp_env(monkeypatch):
    for var in [v for v in os.environ if v.startswith("WHATSAPP_")]:
        monkeypatch.delenv(var)


@pytest.fixture
def project_dir(tmp_path):
    """An empty project: Pulumi.yaml and an empty stacks/ directory."""
    (tmp_path / "Pulumi.yaml").write_text("name: whatsapp-local-storage\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    return tmp_path


@pytest.fixture
def project(project_dir, emulator):
    """write(numbers, stack=..., **config overrides) -> the project directory, its stack file pointing at the
    emulator."""
    tmp_path = project_dir

    def write(numbers, stack="test", **overrides):
        config = {
            "whatsapp:graphApiUrl": emulator.url,
            "whatsapp:accessToken": emulator.token,
            "whatsapp:apiVersion": "v25.0",
            "whatsapp-local-storage:phoneNumbers": numbers,
        }
        config.update({k.replace("__", ":"): v for k, v in overrides.items()})
        config = {k: v for k, v in config.items() if v is not None}
        (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
        return tmp_path

    return write
