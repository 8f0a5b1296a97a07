"""docs/configuration.md's keel.yaml examples load as written and mean what the text says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keel.gateway import Gateway

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def examples() -> list[str]:
    """The doc's YAML blocks, in order."""
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys the examples name, so ``${VAR}`` resolves."""
    for name in ("OPENAI_API_KEY", "AZURE_KEY", "GEMINI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, "sk-doc-example")


@pytest.mark.parametrize("index", range(len(examples())))
def test_every_example_loads(index: int, tmp_path: Path) -> None:
    """Each YAML example is a valid keel.yaml: it parses, validates, and every route has a price."""
    path = tmp_path / "keel.yaml"
    path.write_text(examples()[index])
    Gateway.from_config(path)


def test_slow_provider_example_gives_each_route_its_own_timeouts(tmp_path: Path) -> None:
    """In the slow-provider example a deployment's timeouts replace its provider's and the top level's
    as a set (connect falls back to the default), while the fallback keeps the top-level values."""
    [example] = [text for text in examples() if "deep:" in text]
    path = tmp_path / "keel.yaml"
    path.write_text(example)
    routes = {route.name: route.timeouts for route in Gateway.from_config(path).resolve("deep").routes()}
    o3, vllm, mini = (
        routes["openai/o3"],
        routes["vllm/Qwen/Qwen2.5-72B-Instruct"],
        routes["openai/gpt-4o-mini"],
    )
    assert (o3.connect, o3.first_token, o3.idle, o3.attempt) == (5, 180, 60, 600)
    assert (vllm.connect, vllm.first_token, vllm.idle, vllm.attempt) == (2, 120, 60, 600)
    assert (mini.connect, mini.first_token, mini.idle, mini.attempt) == (5, 30, 30, 120)
    assert o3.total == vllm.total == mini.total == 900
