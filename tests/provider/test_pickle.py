"""The provider's dotted path is part of the state format: blobs must unpickle in a clean process."""

import base64
import subprocess
import sys
from pathlib import Path

import dill

from tests.engine import ROOT, capture_resource, provider_blob

SAVED_V1 = (Path(__file__).parents[1] / "data" / "provider_blob_v1.b64").read_text().strip()

_UNPICKLE = r"""
import base64, sys
import dill
provider = dill.loads(base64.b64decode(sys.stdin.read()))
print(type(provider).__module__ + "." + type(provider).__qualname__)
print(sorted(vars(provider)))
"""


def _unpickle_in_clean_process(blob: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _UNPICKLE], input=blob, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_blob_a_resource_produces_unpickles_in_a_clean_process():
    assert _unpickle_in_clean_process(provider_blob()) == [
        "provider.resource.PhoneNumberStorageProvider", "[]"]


def test_a_blob_saved_by_the_first_version_still_unpickles():
    assert _unpickle_in_clean_process(SAVED_V1) == ["provider.resource.PhoneNumberStorageProvider", "[]"]


def test_the_blob_pickles_the_class_by_reference_and_holds_no_state():
    raw = base64.b64decode(provider_blob())
    assert b"provider.resource" in raw and b"PhoneNumberStorageProvider" in raw
    assert len(raw) < 200, "the provider must be pickled by reference, not by value"


def test_the_provider_input_is_a_secret_and_the_type_token_is_stable():
    captured = capture_resource()
    assert captured["type"] == "pulumi-python:dynamic/whatsapp:PhoneNumberStorage"
    assert isinstance(captured["inputs"]["__provider"], dict)  # wrapped as a secret
    provider = dill.loads(base64.b64decode(provider_blob()))
    assert vars(provider) == {}
