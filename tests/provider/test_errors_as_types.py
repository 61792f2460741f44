"""Issue 25, item 1: errors are types, their prose lives in wording.py, and one function picks the exit code.

Pure tables: the class tree and its prose, Meta's answers -> classes (answers.RULES), the
NetworkError contract the client builds on, and ``exits.exit_code_for`` behind the CLI and
``import`` alike.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from provider import errors, exits, wording
from provider.answers import RULES, error_class, error_from_response
from provider.cli import COMMANDS, main

PROVIDER = Path(errors.__file__).parent


def _constant_name(cls: type) -> str:
    """``PinMismatch`` -> ``PIN_MISMATCH``, ``DNSError`` -> ``DNS_ERROR``: the Text a class takes."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).upper()


def _below(cls: type[Any]) -> list[type[Any]]:
    """Every class below ``cls``, at any depth."""
    found: list[type[Any]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_below(sub)]
    return found


def _graph_classes() -> list[type[errors.GraphAPIError]]:
    return [errors.GraphAPIError, *_below(errors.GraphAPIError)]


def _network_classes() -> list[type[errors.NetworkError]]:
    return _below(errors.NetworkError)


def _strings(path: Path) -> list[str]:
    """The string constants of a module that a person may read at run time (docstrings excluded)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_errors_py_holds_no_sentence_only_types_codes_and_reasons() -> None:
    sentences = [text for text in _strings(PROVIDER / "errors.py") if " " in text]
    assert sentences == [], f"prose belongs in wording.py, not errors.py: {sentences}"


def test_every_graph_error_says_what_the_text_named_after_it_in_wording_says() -> None:
    texts = {name: value for name, value in vars(wording).items() if isinstance(value, wording.Text)}
    used = set()
    for cls in _graph_classes():
        name = _constant_name(cls)
        assert name in texts, f"{cls.__name__} has no wording.{name}"
        assert (cls.summary, cls.fix, cls.do_not_rerun) == texts[name], cls.__name__
        assert cls.summary, f"{cls.__name__} says nothing"
        used.add(name)
    assert set(texts) == used, f"wording Texts no class uses: {sorted(set(texts) - used)}"


def test_the_token_sentence_moved_to_wording_unchanged() -> None:
    # Issue 29 item 10 reworded it (the environment first); what stays is that wording.py holds it.
    assert errors.AuthenticationFailed.fix == wording.AUTHENTICATION_FAILED.fix == (
        "set a valid token in WHATSAPP_ACCESS_TOKEN (or the secret stack config whatsapp:accessToken, which wins)")


def test_every_network_error_is_a_class_with_its_own_reason_built_as_the_client_builds_it() -> None:
    subclasses = _network_classes()
    assert "__new__" not in vars(errors.NetworkError), "no class swap from a string"
    reasons = [vars(cls).get("reason") for cls in subclasses]
    assert None not in reasons and len(set(reasons)) == len(reasons), reasons
    assert errors.NETWORK_ERRORS_BY_REASON == {cls.reason: cls for cls in subclasses}
    parameters = inspect.signature(errors.NetworkError.__init__).parameters
    assert [(p.name, p.kind.name, p.default) for p in list(parameters.values())[1:]] == [
        ("message", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        ("method", "KEYWORD_ONLY", inspect.Parameter.empty), ("path", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("http_status", "KEYWORD_ONLY", None), ("loopback", "KEYWORD_ONLY", False)]
    for cls in subclasses:
        error = cls("127.0.0.1:9: boom", method="POST", path="/1/register", http_status=None)
        assert error.reason == cls.reason and error.method == "POST" and cls.summary in str(error)
        assert isinstance(error, errors.TransientError)


def test_a_network_error_class_without_a_reason_cannot_be_defined() -> None:
    with pytest.raises(TypeError):
        type("Unexplained", (errors.NetworkError,), {})


# Meta's answer -> class: each rule of answers.RULES, then the code alone, then the HTTP status.
ANSWERS: list[tuple[int, Any, type[errors.GraphAPIError]]] = [
    (400, {"error": {"code": 100, "error_subcode": 33, "message": "Unsupported get request"}}, errors.ObjectNotFound),
    (400, {"error": {"code": 100, "message": "API calls from the server require an appsecret_proof argument"}},
     errors.AppSecretProofRejected),
    (400, {"error": {"code": 100, "message": "Tried accessing nonexisting field (x)"}}, errors.InvalidParameter),
    (400, {"error": {"code": 33, "error_subcode": 33}}, errors.NumberDeleted),
    (400, {"error": {"code": 33}}, errors.UnconfirmedMissingObject),
    (400, {"error": {"code": 33, "error_subcode": 2388001}}, errors.UnconfirmedMissingObject),
    (400, {"error": {"code": "133005"}}, errors.PinMismatch),
    (500, {"error": {"code": 3}}, errors.CapabilityMissing),
    (400, {"error": {"code": 987654, "is_transient": True}}, errors.ServerError),
    (503, {"error": {"code": 987654}}, errors.ServerError),
    (400, {"error": {"code": 987654}}, errors.UnclassifiedError),
    (502, "<html>bad gateway</html>", errors.ServerError),
    (404, None, errors.UnclassifiedError),
]


@pytest.mark.parametrize(("status", "body", "expected"), ANSWERS)
def test_metas_answer_becomes_the_class_its_table_row_names(status: int, body: Any,
                                                            expected: type[errors.GraphAPIError]) -> None:
    error = error_from_response(status, body, method="GET", path="/1")
    assert type(error) is expected
    assert error.summary in str(error) and error.method == "GET"


def test_every_rule_of_the_answer_table_is_reached_by_an_answer() -> None:
    reached = {type(error_from_response(status, body)) for status, body, _ in ANSWERS}
    assert {rule.cls for rule in RULES} <= reached
    assert error_class(400, 100, 33) is errors.ObjectNotFound and error_class(400, 100) is errors.InvalidParameter


def test_a_hint_adds_to_the_fix_of_the_class_it_names_and_its_subclasses_only() -> None:
    hints: dict[type[errors.GraphAPIError], str] = {errors.AuthenticationFailed: "The token came from the stack."}
    rejected = error_from_response(401, {"error": {"code": 190}}, hints=hints)
    assert rejected.fix == f"{errors.AuthenticationFailed.fix}. The token came from the stack."
    assert error_from_response(400, {"error": {"code": 133005}}, hints=hints).fix == errors.PinMismatch.fix


# --- exit codes: one decision, and help texts that name exits' members -----------------------------


@pytest.mark.parametrize(("error", "code"), [
    (errors.UsageError(argparse.ArgumentParser(), "bad"), exits.USAGE),
    (errors.StackFileError("no stacks/Pulumi.x.yaml"), exits.USAGE),
    (errors.ConfigurationError("no token"), exits.ERROR),
    (errors.PinMismatch("no"), exits.ERROR),
    (errors.GraphUnreachable("http://x", errors.ConnectError("x", method="GET", path="/1"), 1, 1), exits.ERROR),
    (OSError("disk"), exits.ERROR),
    (KeyboardInterrupt(), exits.ERROR),
    (RuntimeError("a bug"), exits.ERROR),
])
def test_the_exit_code_of_a_failure_is_decided_in_exits_only(error: BaseException, code: exits.ExitCode) -> None:
    assert exits.exit_code_for(error) is code


def test_the_cli_and_import_both_take_their_failure_code_from_exit_code_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exits, "exit_code_for", lambda error: exits.NONCOMPLIANT)  # a code neither would pick
    for argv in (["plan", "--stack", "nope"], ["import", "--stack", "nope", "--waba-id", "1"]):
        out = io.StringIO()
        code = main([*argv, "--project-dir", str(tmp_path), "--format", "json"], out=out, err=io.StringIO())
        assert code == exits.NONCOMPLIANT == json.loads(out.getvalue())["exit_code"], argv


def test_every_commands_help_lists_codes_from_exits_and_no_help_text_spells_one() -> None:
    for command in COMMANDS:
        assert all(type(code) is exits.ExitCode for code, _ in command.exit_codes), command.name
    spelled = re.compile(r"\bexit(?: codes?)?:?\s+\d|\b\d\s+(?:ok|an error|a usage error|drift)\b")
    for path in sorted(PROVIDER.rglob("*.py")):
        found = [text for text in _strings(path) if spelled.search(text)]
        assert found == [], f"{path.relative_to(PROVIDER.parent)} spells an exit code: {found}"
