"""Reading a request off the wire: the body within its limits, and what the body says.

`read_body` refuses broken framing (400) and a body over MAX_BODY_BYTES (413) before reading it,
and reserves the body's bytes from the server's `BodyBudget` while the request is served: past
the budget the request gets 503, so that many slow uploads cannot hold unbounded memory.
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from email.message import Message
from typing import Any

from .limits import MAX_BODY_BYTES, MAX_CHUNK_LINE
from .pool import BodyBudget
from .request import INVALID_BODY


class BadRequest(Exception):
    """A request whose framing or size the server refuses (answered, then the connection closes)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _over_budget(budget: BodyBudget) -> BadRequest:
    return BadRequest(503, f"emulator busy: request bodies being read already hold {budget.limit} "
                           "bytes; retry shortly")


class Body:
    """The request body and the bytes it holds of the budget (`release()` when answered)."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.reserved = 0
        self.data = b""

    def reserve(self, size: int) -> None:
        if not self.budget.reserve(size):
            raise _over_budget(self.budget)
        self.reserved += size

    def release(self) -> None:
        self.budget.release(self.reserved)
        self.reserved = 0


def read_body(rfile: io.BufferedIOBase, headers: Message, body: Body) -> None:
    """Fill `body.data` within MAX_BODY_BYTES and the budget; BadRequest otherwise."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            line = rfile.readline(MAX_CHUNK_LINE + 1)
            size_text = line.split(b";")[0].strip()
            if len(line) > MAX_CHUNK_LINE or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                raise BadRequest(400, "malformed chunked body: a chunk size must be hexadecimal digits")
            size = int(size_text, 16)
            if size == 0:
                while True:
                    trailer = rfile.readline(MAX_CHUNK_LINE + 1)
                    if trailer in (b"\r\n", b"\n", b""):
                        body.data = b"".join(chunks)
                        return
                    if len(trailer) > MAX_CHUNK_LINE:
                        raise BadRequest(400, "malformed chunked body: trailer line too long")
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
            body.reserve(size)
            data = rfile.read(size)
            if len(data) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest(400, "malformed chunked body: a chunk is shorter than its size")
            chunks.append(data)
    text = headers.get("Content-Length")
    if text is None or text.strip() == "":
        return
    if not re.fullmatch(r"[0-9]{1,12}", text.strip()):
        raise BadRequest(400, "Content-Length must be a whole number of bytes")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    if length == 0:
        return
    body.reserve(length)
    body.data = rfile.read(length)
    if len(body.data) != length:
        raise BadRequest(400, "request body shorter than its Content-Length")


def single(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in query.items()}


def parse_body(raw: bytes, content_type: str) -> Any:
    """A Graph call's body: JSON, form data, None when empty, INVALID_BODY when neither."""
    if not raw.strip():
        return None
    ctype = content_type.split(";")[0].strip().lower()
    text = raw.decode("utf-8", "replace")
    if ctype == "application/json" or (ctype != "application/x-www-form-urlencoded"
                                       and text.lstrip()[:1] in ("{", "[")):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            return INVALID_BODY
    return single(urllib.parse.parse_qs(text, keep_blank_values=True))
