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
    """In the slow-provider example a deployment's and a provider's timeouts win field by field over
    the top level's (o3's connect is the top level's), while the fallback keeps the top-level values."""
    [example] = [text for text in examples() if "deep:" in text]
    path = tmp_path / "keel.yaml"
    path.write_text(example)
    routes = {route.name: route.timeouts for route in Gateway.from_config(path).resolve("deep").routes()}
    o3, vllm, mini = (
        routes["openai/o3"],
        routes["vllm/Qwen/Qwen2.5-72B-Instruct"],
        routes["openai/gpt-4o-mini"],
    )
    assert (o3.connect, o3.first_token, o3.idle, o3.attempt) == (3, 180, 60, 600)
    assert (vllm.connect, vllm.first_token, vllm.idle, vllm.attempt) == (2, 120, 60, 600)
    assert (mini.connect, mini.first_token, mini.idle, mini.attempt) == (3, 30, 30, 120)
    assert o3.total == vllm.total == mini.total == 900


def test_timeouts_layer_field_by_field() -> None:
    """A deployment's timeout fields win over its provider's, which win over the top level's; a field
    none gives is the default, and only the top level's total counts."""
    config = {
        "providers": {
            "slow": {"profile": "vllm", "base_url": "http://127.0.0.1:9/v1", "timeouts": {"idle": 50}}
        },
        "models": {
            "m": [
                {"provider": "slow", "model": "a", "timeouts": {"first_token": 90, "total": 5}},
                {"provider": "slow", "model": "b"},
            ]
        },
        "timeouts": {"connect": 2, "total": 400},
        "pricing": {"models": {"slow/*": "free"}},
    }
    routes = {route.name: route.timeouts for route in Gateway.from_config(config).resolve("m").routes()}
    a, b = routes["slow/a"], routes["slow/b"]
    assert (a.connect, a.first_token, a.idle, a.attempt, a.total) == (2, 90, 50, 120, 400)
    assert (b.connect, b.first_token, b.idle, b.attempt, b.total) == (2, 30, 50, 120, 400)
