"""The `--state FILE` format: numbers, known business accounts and the clock offset as JSON.

Writes are atomic (a temporary file in the same directory, fsync, `os.replace`), so a crash
leaves either the old file or the new one. Nothing secret is written: the app secret, faults
and rejected fields live only in memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Iterable

from .record import NumberRecord

STATE_FILE_VERSION = 1


def read_state_file(path: str) -> tuple[list[NumberRecord], set[str], float]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    numbers = [NumberRecord.from_dict(rec) for rec in data.get("numbers", [])]
    wabas = set(data.get("wabas", [])) | {n.waba_id for n in numbers}
    return numbers, wabas, float(data.get("clock_offset", 0.0))


def write_state_file(path: str, numbers: Iterable[NumberRecord], wabas: Iterable[str],
                     clock_offset: float) -> None:
    data = {"version": STATE_FILE_VERSION,
            "numbers": [rec.to_dict() for rec in sorted(numbers, key=lambda r: r.id)],
            "wabas": sorted(wabas),
            "clock_offset": clock_offset}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)  # `--state .pulumi-local/emulator.json` on a fresh clone
    fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
