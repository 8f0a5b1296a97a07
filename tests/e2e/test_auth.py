"""Virtual keys at the front door: a key limited to some models sees and may call only those."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from keel.mock import MockServer

from .conftest import RunningKeel, issue_key, mock_config, start_keel, user

MASTER = "mk-e2e-master-key"


@pytest.fixture
def guarded(upstream: MockServer, tmp_path: Path) -> Iterator[tuple[RunningKeel, str]]:
    """A server with auth on, and a virtual key allowed only the model ``cheap``."""
    config = mock_config(
        upstream,
        {"cheap": ["mock/ok:tokens=2"], "smart": ["mock/ok:tokens=4"]},
        server={"master_key": MASTER},
        database=f"sqlite:///{tmp_path / 'keel.db'}",
    )
    running = start_keel(config)

    _, secret = issue_key(running, "e2e", models=["cheap"])
    yield running, secret
    running.stop()


def test_a_virtual_key_answers_for_its_models_only(guarded: tuple[RunningKeel, str]) -> None:
    """The key calls its model, gets 403 for another, and lists only its own."""
    running, secret = guarded
    with openai.OpenAI(base_url=running.v1, api_key=secret) as sdk:
        assert sdk.chat.completions.create(model="cheap", messages=user()).choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError):
            sdk.chat.completions.create(model="smart", messages=user())
        assert [model.id for model in sdk.models.list()] == ["cheap"]


def test_no_or_wrong_key_is_401_and_master_sees_all(guarded: tuple[RunningKeel, str]) -> None:
    """Without a valid key the SDK raises AuthenticationError; the master key may use every model."""
    running, _ = guarded
    with (
        openai.OpenAI(base_url=running.v1, api_key="sk-keel-not-a-real-key") as sdk,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        sdk.models.list()
    assert "sk-keel-not-a-real-key" not in info.value.response.text
    with openai.OpenAI(base_url=running.v1, api_key=MASTER) as sdk:
        assert {model.id for model in sdk.models.list()} == {"cheap", "smart"}


def test_the_anthropic_endpoint_checks_the_same_keys(guarded: tuple[RunningKeel, str]) -> None:
    """On /v1/messages the key goes as x-api-key: its model answers, another is a PermissionDeniedError."""
    running, secret = guarded
    turn: Any = [{"role": "user", "content": "hi"}]
    with anthropic.Anthropic(base_url=running.base_url, api_key=secret) as sdk:
        assert sdk.messages.create(model="cheap", max_tokens=10, messages=turn).content
        with pytest.raises(anthropic.PermissionDeniedError) as info:
            sdk.messages.create(model="smart", max_tokens=10, messages=turn)
    assert info.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
