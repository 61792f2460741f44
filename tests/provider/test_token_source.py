"""Errors about the token say where it came from and the fix for that source."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider import errors
from provider.client import GraphClient
from provider.config import ProviderConfig
from provider.stackfile import Secure, StackFile
from provider.notices import Notices
from tests.graph_transport import graph_error, graph_session

STACK_TOKEN = "EAAstack-token-source-test-1111"
ENV_TOKEN = "EAAenv-token-source-test-2222"


def rejected(config: ProviderConfig) -> str:
    session, fake = graph_session(lambda r: graph_error(190, "Error validating access token", status=401))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        GraphClient(config, session=session).get_number("106540352242922")
    assert len(fake.requests) == 1
    text = str(caught.value)
    assert STACK_TOKEN not in text and ENV_TOKEN not in text
    assert AUTH_FIX in text, "the class's fix stays, the source is added"
    return text


AUTH_FIX = errors.AuthenticationFailed.fix


def test_a_token_from_the_engines_stack_config_points_at_pulumi_config_and_refresh():
    text = rejected(ProviderConfig.load({"whatsapp:accessToken": STACK_TOKEN}, {}))
    assert "The token came from the stack config whatsapp:accessToken" in text
    assert "pulumi config set --secret whatsapp:accessToken" in text and "pulumi config rm" in text
    assert "--run-program" in text, "refresh and destroy use the configuration saved by the last up"


def test_a_token_from_the_environment_points_at_the_variable():
    text = rejected(ProviderConfig.load({}, {"WHATSAPP_ACCESS_TOKEN": ENV_TOKEN}))
    assert "The token came from the environment variable WHATSAPP_ACCESS_TOKEN" in text
    assert "export a valid token in WHATSAPP_ACCESS_TOKEN" in text


def _stack_file(**config) -> StackFile:
    return StackFile(project_dir=Path("/project"), path=Path("/project/stacks/Pulumi.dev.yaml"),
                     project="whatsapp-local-storage", stack="dev", config=config)


def test_a_plain_token_in_the_stack_file_says_so_and_how_to_remove_it():
    """The command line cannot read an encrypted token: the fix is the environment, never `config set --secret`."""
    text = rejected(_stack_file(**{"whatsapp:accessToken": STACK_TOKEN}).provider_config({}))
    assert "plain value of whatsapp:accessToken in stacks/Pulumi.dev.yaml" in text
    assert "pulumi config rm whatsapp:accessToken" in text and "WHATSAPP_ACCESS_TOKEN is used" in text
    assert "pulumi config set --secret" not in text


def test_a_secure_token_in_the_stack_file_comes_from_the_environment():
    config = _stack_file(**{"whatsapp:accessToken": Secure("v1:x")}).provider_config({"WHATSAPP_ACCESS_TOKEN": ENV_TOKEN})
    assert config.token_source.kind == "env"
    assert "environment variable WHATSAPP_ACCESS_TOKEN" in rejected(config)


def test_no_token_names_both_places():
    with pytest.raises(errors.ConfigurationError) as caught:
        ProviderConfig.load({}, {}).require_token()
    text = str(caught.value)
    assert "no access token" in text and "whatsapp:accessToken" in text and "WHATSAPP_ACCESS_TOKEN" in text
    with pytest.raises(errors.ConfigurationError, match="stacks/Pulumi.dev.yaml"):
        _stack_file().provider_config({}).require_token()


def test_differing_stack_and_environment_tokens_print_one_notice_and_the_stack_wins(capsys, monkeypatch):
    process = Notices()  # a fresh process's notice sink: its notices not printed yet
    for _ in range(3):
        config = ProviderConfig.load({"whatsapp:accessToken": STACK_TOKEN}, {"WHATSAPP_ACCESS_TOKEN": ENV_TOKEN})
        process.all_once(config.notices)
    assert config.access_token == STACK_TOKEN and config.token_source.kind == "stack"
    err = capsys.readouterr().err
    assert err.count("whatsapp:accessToken in the stack config and WHATSAPP_ACCESS_TOKEN in the environment "
                     "differ: the stack value is used") == 1
    assert STACK_TOKEN not in err and ENV_TOKEN not in err


def test_equal_stack_and_environment_tokens_print_nothing(capsys, monkeypatch):
    process = Notices()  # a fresh process's notice sink: its notices not printed yet
    process.all_once(ProviderConfig.load({"whatsapp:accessToken": STACK_TOKEN},
                                         {"WHATSAPP_ACCESS_TOKEN": STACK_TOKEN}).notices)
    assert capsys.readouterr().err == ""


def test_a_blank_stack_token_leaves_the_environment_token_in_use():
    config = ProviderConfig.load({"whatsapp:accessToken": "   "}, {"WHATSAPP_ACCESS_TOKEN": ENV_TOKEN})
    assert config.access_token == ENV_TOKEN and config.token_source.kind == "env"
