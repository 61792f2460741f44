"""The installable package (issue 31, item 3): a wheel built from this checkout, installed into a
fresh virtual environment outside the repository, runs the ``whatsapp-local-storage`` command from
anywhere and lets a Pulumi program elsewhere declare ``PhoneNumberStorage``.

The wheel is built once per content (the hash of everything that goes into it) and kept in
pytest's cache, so a second run installs the same wheel. The fresh environment installs it with
``--no-index --no-deps`` and sees the project's pinned dependencies through a ``.pth`` file: the
full suite runs in a network namespace without the package registry (a real ``pip install .``
resolves the ranges in pyproject.toml instead; docs/packaging.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from emulator.harness import Emulator
from provider import __version__

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "provider", "emulator")
LOCAL_URL = "http://127.0.0.1:8787"


def _files() -> list[Path]:
    found = []
    for name in SOURCES:
        path = ROOT / name
        found += [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return found


def _content_key() -> str:
    digest = hashlib.sha256()
    for path in _files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WHATSAPP_", "PYTHON", "VIRTUAL_ENV", "PIP_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout's content, built with the project's own setuptools (no build
    isolation: that would fetch setuptools from the registry) from a copy, so no build files land
    in the checkout."""
    store = getattr(request.config, "cache", None)  # None under -p no:cacheprovider: build every run
    cache = (Path(store.mkdir("wheels")) if store is not None else tmp_path_factory.mktemp("wheels")) / _content_key()
    built = sorted(cache.glob("*.whl"))
    if built:
        return built[0]
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-c", f"import setuptools.build_meta as b; b.build_wheel({str(out)!r})"],
                   cwd=source, check=True, capture_output=True, timeout=120, env=_clean_env())
    cache.mkdir(parents=True, exist_ok=True)
    [whl] = out.glob("*.whl")
    return Path(shutil.copy2(whl, cache / whl.name))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the repository with the wheel installed (its bin/)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    # the pinned dependencies of the project's .venv, after the fresh environment's own packages
    Path(purelib, "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip itself comes through the .pth; --no-compile: bytecode is written on first import anyway
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
                    "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=120, env=_clean_env())
    return venv / "bin"


def _project_copy(directory: Path, emu: Emulator) -> Path:
    """The project's Pulumi.yaml and local stack file, pointed at ``emu``, and nothing else: no
    ``provider/`` beside them, so only the installed package can answer."""
    (directory / "stacks").mkdir(parents=True)
    shutil.copy2(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    local = (ROOT / "stacks" / "Pulumi.local.yaml").read_text()
    assert LOCAL_URL in local
    (directory / "stacks" / "Pulumi.local.yaml").write_text(local.replace(LOCAL_URL, emu.url))
    return directory


def test_the_wheel_holds_the_provider_and_the_emulator_and_nothing_of_the_repository_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {"provider/resource.py", "provider/cli/__init__.py", "provider/py.typed", "emulator/__main__.py"} <= set(names)
    assert {name.split("/")[0] for name in names} == {"provider", "emulator", wheel.name.split("-")[0] + "-"
                                                      + wheel.name.split("-")[1] + ".dist-info"}
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "whatsapp-local-storage = provider.cli:console" in entry_points
    assert "whatsapp-local-storage-emulator = emulator.__main__:console" in entry_points


def test_the_installed_wheel_runs_version_and_plan_of_a_copied_project_from_anywhere(
        installed: Path, emulator: Emulator, tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "elsewhere" / "project", emulator)
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    command = str(installed / "whatsapp-local-storage")
    version = subprocess.run([command, "--version"], cwd=anywhere, env=_clean_env(), capture_output=True,
                             text=True, timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"whatsapp-local-storage {__version__}, time zones tzdata ")
    plan = subprocess.run([command, "plan", "-s", "local", "-C", str(project)], cwd=anywhere, env=_clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert plan.returncode == 0, plan.stderr
    assert "plan for stack local (stacks/Pulumi.local.yaml)" in plan.stdout
    assert "calls:     settings(IN) -> register" in plan.stdout
    assert [c for c in emulator.calls() if c["method"] == "POST"] == []


PROGRAM = '''
import pulumi, provider
from provider import PhoneNumberStorage, PhoneNumberStorageArgs

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return args.name, dict(args.inputs)
    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Mocks(), project="someone-elses-project", stack="prod", preview=False)
PhoneNumberStorage("106540352242922", PhoneNumberStorageArgs(phone_number_id="106540352242922", region="BR",
                                                             pin=pulumi.Output.secret("123456")))
import dill
blob = dill.dumps(provider.resource.PhoneNumberStorageProvider())
print(provider.__file__)
print(dill.loads(blob).__class__.__module__ + "." + dill.loads(blob).__class__.__qualname__)
'''


def test_a_pulumi_program_elsewhere_declares_phone_number_storage_from_the_installed_package(
        installed: Path, tmp_path: Path) -> None:
    """The program's directory has no ``provider/``: the resource, and the provider class path that
    Pulumi pickles into state, come from the installed package."""
    program = tmp_path / "their-program" / "__main__.py"
    program.parent.mkdir()
    program.write_text(PROGRAM)
    done = subprocess.run([str(installed / "python"), str(program)], cwd=program.parent, env=_clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    location, class_path = done.stdout.split()
    assert Path(location).is_relative_to(installed.parent) and not Path(location).is_relative_to(ROOT)
    assert class_path == "provider.resource.PhoneNumberStorageProvider"
