r"""Escaping text for where it is printed: a terminal or CI log, and Markdown.

Names, number IDs, paths and error messages come from stack files a pull request can edit and
from the Graph API; they are printed to terminals, to CI logs and into pull-request comments.
GitHub's runner reads two kinds of workflow command in a log: ``::name::`` at the start of a
line (after white space: ``::add-mask::``, ``::error::``, ``::stop-commands::``), and ``##[name]``
*anywhere* in a line (it looks for ``##[`` with ``IndexOf``). Three functions, one per target:

- ``text(value)``: one value inside a line: every character that is not printable (control
  characters including ESC, so no ANSI sequence; line breaks; bidi overrides) is written as a
  backslash escape, ``##[`` is broken wherever it is, and a value that would start a ``::``
  command is neutralised.
- ``log(document)``: a whole output for a terminal or log: control characters other than line
  breaks and tabs are escaped, ``##[`` is broken wherever it is, and every line that starts
  (after spaces) with ``::`` gets a backslash first. ``LogStream`` applies it to everything the
  command line writes, one mechanism for every printer.
- ``markdown(value)`` and ``code(value)``: a value in Markdown (a table cell, a list item, a
  code span): no raw HTML (``<!--`` cannot hide the rest of a comment), no pipe that splits a
  cell, no link or image syntax, no ``$`` that starts GitHub's math, and ``text``'s escapes.

``##[`` becomes ``##\u005b``: the ``\uXXXX`` form ``text`` uses for any character it escapes,
and, inside a JSON string (the ``--format json`` documents go through ``LogStream`` too), the
JSON escape of ``[`` itself, so a JSON reader gets the value back exactly and the document stays
valid. (A backslash before ``[`` would leave ``##`` intact for the runner, and ``\[`` is not
valid JSON.)
"""

from __future__ import annotations

import io
import re
from typing import TextIO

# The runner trims leading white space (a carriage return too) before it looks for a `::` command.
_COMMAND_AT_LINE_START = re.compile(r"(?m)(^|\r)(\s*)(::)")
# ...and finds `##[` anywhere in a line.
COMMAND_ANYWHERE = "##["
_COMMAND_ANYWHERE_BROKEN = "##\\u005b"
_LOG_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
# Backticks stay: the provider's own messages quote commands in them, and a code span can hold
# no HTML, link or image (its pipes are escaped, which GitHub tables honour inside code too).
_MD_SPECIAL = re.compile(r"([\\*~\[\]|])")
# GitHub turns @name into a mention and #12 into a link after rendering, backslash or not: a
# zero-width space (as an entity: the output stays ASCII) after the sign keeps both plain text.
_MD_REFERENCE = re.compile(r"([@#])")
# What a code span cannot hold safely: a table's pipe, or text that would need entities.
_CODE_UNSAFE = re.compile(r"[\\*\[\]|&<>]")


def _escape_char(char: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def _break_commands(out: str) -> str:
    return out.replace(COMMAND_ANYWHERE, _COMMAND_ANYWHERE_BROKEN)


def text(value: object) -> str:
    """One value for a line of terminal or log output: every non-printable character escaped."""
    out = "".join(char if char.isprintable() else _escape_char(char) for char in str(value))
    return _COMMAND_AT_LINE_START.sub(r"\1\2\\\3", _break_commands(out))


def log(document: str, *, at_line_start: bool = True) -> str:
    """A whole output for a terminal or CI log: no control sequences, no workflow command at a line start.

    ``at_line_start=False``: ``document`` continues a line already written, so its first line is
    not a line start.
    """
    out = _break_commands(_LOG_CONTROL.sub(lambda match: _escape_char(match.group()), document))
    head = ""
    if not at_line_start:
        match = re.search(r"[\n\r]", out)
        cut = match.end() if match else len(out)
        head, out = out[:cut], out[cut:]
    return head + _COMMAND_AT_LINE_START.sub(r"\1\2\\\3", out)


def markdown(value: object) -> str:
    """One value for Markdown text or a table cell: no HTML, no pipes, no link or emphasis syntax."""
    out = text(value)
    out = _MD_SPECIAL.sub(r"\\\1", out)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_REFERENCE.sub(r"\1&#8203;", out)
    # `$` starts GitHub's math (`$x$`, `$$`), which can draw anything over the text around it; as an
    # entity it is read after the math is looked for, so it stays a dollar sign.
    return out.replace("$", "&#36;")


def code(value: object) -> str:
    """A value as a Markdown code span when nothing in it needs escaping, else as escaped text.

    A code span shows ``&lt;`` literally, so a value with a character Markdown or HTML would read
    (``<``, ``|``, a backtick, a control character) is written as escaped text instead.
    """
    out = text(value)
    if not out or "`" in out or _CODE_UNSAFE.search(out):
        return markdown(value)
    return f"`{out}`"


_PENDING_LINE_START = re.compile(r"[^\S\n\r]*:?")
_PENDING_ANYWHERE = re.compile(r"#{1,2}\Z")


class LogStream(io.TextIOBase):
    """A text stream that writes ``log(...)`` of everything to ``target``.

    A command can arrive in pieces (``":"`` then ``":error::"`` at a line start, ``"a #"`` then
    ``"#[error]"`` anywhere): text that could still become ``::`` at a line start, or ``##[``, is
    held until it is decided, or until ``flush``.
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._held = ""  # the end of what was written, not yet decided

    def write(self, data: str) -> int:
        pending = self._held + data
        cut = max(pending.rfind("\n"), pending.rfind("\r")) + 1
        tail = pending[cut:]
        if _PENDING_LINE_START.fullmatch(tail) and (cut > 0 or self._at_line_start):
            self._held = tail
        else:
            partial = _PENDING_ANYWHERE.search(tail)
            self._held = partial.group() if partial else ""
        ready = pending[:len(pending) - len(self._held)]
        if ready:
            self._emit(ready)
        return len(data)

    _at_line_start = True

    def _emit(self, data: str) -> None:
        self._target.write(log(data, at_line_start=self._at_line_start))
        self._at_line_start = data.endswith(("\n", "\r"))

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self._emit(held)
        self._target.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._target, "isatty", lambda: False)())

    def writable(self) -> bool:
        return True
