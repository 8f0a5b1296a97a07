"""keel.yaml: shorthand forms, env interpolation, and errors that name the field and the fix."""

from pathlib import Path

import pytest

from keel import ConfigError, Gateway, load_config


def test_shorthand_tiers_and_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    """``provider/model`` strings and single deployments expand to tiers of deployments."""
    monkeypatch.setenv("VLLM_KEY", "s3cret")
    config = load_config(
        {
            "providers": {
                "vllm": {"profile": "vllm", "base_url": "http://127.0.0.1:9/v1", "api_key": "${VLLM_KEY}"},
                "local": {"kind": "local"},
            },
            "models": {"smart": [["vllm/a", {"provider": "vllm", "model": "b", "weight": 3}], "local"]},
        }
    )
    tiers = config.models["smart"]
    assert [[d.model for d in tier] for tier in tiers] == [["a", "b"], [None]]
    assert tiers[0][1].weight == 3
    assert config.providers["vllm"].api_key is not None
    assert config.providers["vllm"].api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)


def test_missing_env_var_names_the_variable_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing ``${VAR}`` fails at start with its name and where it was used."""
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"providers\.x\.api_key: environment variable NOPE_KEY is not set"):
        load_config({"providers": {"x": {"api_key": "${NOPE_KEY}"}}})


def test_env_default() -> None:
    """``${VAR:-default}`` falls back to the default."""
    config = load_config(
        {"providers": {"x": {"profile": "generic", "base_url": "${NOPE_URL:-http://127.0.0.1:1}"}}}
    )
    assert config.providers["x"].base_url == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"providers": {"x": {"kind": "openai", "base_urll": "u"}}},
            r"providers\.x\.base_urll: unknown field",
        ),
        ({"providers": {"x": {"profile": "nope"}}}, r"providers\.x\.profile: unknown profile 'nope'"),
        (
            {"providers": {"x": {}}, "models": {"m": ["y/gpt"]}},
            r"unknown provider 'y' \(configured providers: local, x\)",
        ),
        ({"providers": {"x": {}}, "models": {"m": ["x"]}}, r"say which model to ask 'x' for"),
        ({"retry": {"max_attempts": 0}}, r"retry\.max_attempts: Input should be greater than or equal to 1"),
        ({"state": "etcd://x"}, r"state: use memory://"),
        ([1, 2], r"top level must be a mapping"),
    ],
)
def test_wrong_config_names_the_field(raw: object, message: str) -> None:
    """Every wrong config fails with the YAML path of the problem and what to do."""
    with pytest.raises(ConfigError, match=message):
        load_config(raw)  # type: ignore[arg-type]


def test_yaml_file(tmp_path: Path) -> None:
    """A keel.yaml file loads; a broken one names the file."""
    good = tmp_path / "keel.yaml"
    good.write_text("providers:\n  local: {kind: local}\nmodels:\n  fast: [local]\n")
    assert list(load_config(good).models) == ["fast"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)


def test_default_cascade_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no config and no keys, the default cascade is the local model alone."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    gateway = Gateway.from_config()
    assert [route.name for route in gateway.resolve("default").routes()] == ["local/smollm2-135m-instruct"]


def test_default_cascade_with_openai_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With OPENAI_API_KEY set, OpenAI comes first and the local model last."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    gateway = Gateway.from_config()
    names = [route.name for route in gateway.resolve("default").routes()]
    assert names == ["openai/gpt-4o-mini", "local/smollm2-135m-instruct"]


def test_default_cascade_with_anthropic_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With ANTHROPIC_API_KEY set too, a prefill-capable Claude route comes after OpenAI, before local."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    gateway = Gateway.from_config()
    routes = list(gateway.resolve("default").routes())
    assert [route.name for route in routes] == [
        "openai/gpt-4o-mini",
        "anthropic/claude-haiku-4-5",
        "local/smollm2-135m-instruct",
    ]
    claude = routes[1]
    assert type(claude.provider).__name__ == "AnthropicProvider"
    assert claude.capabilities.supports_prefill and claude.capabilities.supports_json_schema
    assert "sk-ant-test" not in repr(gateway.config)


def test_several_workers_need_shared_state() -> None:
    """More than one worker with in-memory state fails at start, naming the fix."""
    with pytest.raises(ConfigError, match=r"server\.workers: 2 workers .* set state: redis://"):
        Gateway.from_config({"server": {"workers": 2}})
