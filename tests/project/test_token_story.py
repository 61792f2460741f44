"""Issue 29, item 10: one token story everywhere, the environment first.

The README said the token lives in the environment, "never in the stack file", while the example
stack file, the troubleshooting row for 190 and the missing-token error said `pulumi config set
--secret whatsapp:accessToken`, which the command line then refuses; the example stack file put
the PIN on the command line, which the README forbids.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from provider import errors
from provider.config import ProviderConfig, Source, _token_fix

ROOT = Path(__file__).resolve().parents[2]
ENV, KEY = "WHATSAPP_ACCESS_TOKEN", "whatsapp:accessToken"
PIN_ON_THE_COMMAND_LINE = re.compile(r"\.pin\\?'\s+\d")  # a quote escaped in Python source too


def environment_first(text: str) -> None:
    assert ENV in text, text
    if KEY in text:
        assert text.index(ENV) < text.index(KEY), text


@pytest.mark.parametrize("source", [Source("stack", "stacks/Pulumi.prod.yaml"), Source("stack"), Source("env"),
                                    Source("none")], ids=["stack file", "engine", "env", "none"])
def test_every_token_fix_names_the_environment_first(source: Source) -> None:
    environment_first(_token_fix(source))
    if source.kind != "stack" or source.stack_origin:  # the CLI cannot read an encrypted token
        assert "config set --secret" not in _token_fix(source)


def test_the_missing_token_error_and_the_rejected_token_fix_name_the_environment_first() -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load({}, {}).require_token()
    environment_first(str(caught.value))
    environment_first(errors.AuthenticationFailed.fix)


def test_the_example_stack_file_keeps_the_token_out_and_prompts_for_the_pin() -> None:
    path = ROOT / "stacks" / "Pulumi.example-production.yaml"
    text = path.read_text()
    assert KEY not in yaml.safe_load(text)["config"]
    assert "config set --secret whatsapp:accessToken" not in text
    assert not PIN_ON_THE_COMMAND_LINE.search(text), "a PIN on the command line stays in the shell history"
    environment_first(text)


def test_the_readme_tells_the_same_story() -> None:
    readme = (ROOT / "README.md").read_text()
    row_190 = next(line for line in readme.splitlines() if line.startswith("| 190 |"))
    environment_first(row_190)
    assert "config set --secret whatsapp:accessToken" not in readme
    table = readme.split("| environment | stack config | default |", 1)[1]
    environment_first(next(line for line in table.splitlines() if ENV in line))
    assert not PIN_ON_THE_COMMAND_LINE.search(readme)
    assert "environmentVariables" in readme and "WHATSAPP_ALLOW_GRAPH_HOST" in readme


def test_the_stack_programs_example_prompts_for_the_pin() -> None:
    program = (ROOT / "__main__.py").read_text()
    assert not PIN_ON_THE_COMMAND_LINE.search(program)
