"""The local model's context: what its weights were trained with (read from the GGUF header without
loading them), or the configured size; the local route's ``context_window`` says the same."""

from __future__ import annotations

import struct
from pathlib import Path

from keel import Gateway
from keel.providers._gguf import trained_context
from keel.providers._llama_runtime import DEFAULT_CONTEXT, context_window


def gguf(path: Path, *pairs: tuple[str, int, bytes]) -> Path:
    """A GGUF v3 header with these (key, value type, packed value) pairs and no tensors."""
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs))
    for key, kind, value in pairs:
        data += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + value
    path.write_bytes(data)
    return path


def text(value: str) -> bytes:
    return struct.pack("<Q", len(value)) + value.encode()


def test_the_trained_context_is_read_from_the_header(tmp_path: Path) -> None:
    """``<architecture>.context_length`` is found after the keys before it (a string array too)."""
    languages = struct.pack("<IQ", 8, 2) + text("en") + text("fr")
    path = gguf(
        tmp_path / "m.gguf",
        ("general.architecture", 8, text("qwen2")),
        ("general.languages", 9, languages),
        ("qwen2.block_count", 4, struct.pack("<I", 24)),
        ("qwen2.context_length", 4, struct.pack("<I", 32768)),
    )
    assert trained_context(path) == 32768


def test_a_file_that_does_not_say_gives_none(tmp_path: Path) -> None:
    """Not a GGUF file, a header without the key, or a missing file: None, never an exception."""
    (tmp_path / "junk").write_bytes(b"not a model at all, not even close to one")
    no_key = gguf(tmp_path / "n.gguf", ("general.architecture", 8, text("llama")))
    assert trained_context(tmp_path / "junk") is None
    assert trained_context(no_key) is None
    assert trained_context(tmp_path / "missing.gguf") is None
    assert context_window(tmp_path / "missing.gguf") == DEFAULT_CONTEXT


def test_the_local_route_s_window_is_the_model_s_unless_configured(tmp_path: Path) -> None:
    """The local route's ``context_window`` is the weights' trained context (8,192 for SmolLM2, also
    the default when the weights are absent), or the provider's ``context_window``; nothing loads."""
    models = {"tiny": ["local"], "small": ["small"]}
    providers = {"local": {"kind": "local"}, "small": {"kind": "local", "context_window": 4096}}
    gateway = Gateway.from_config(
        {"providers": providers, "models": models, "database": f"sqlite:///{tmp_path}/keel.db"}
    )
    [local] = gateway.resolve("tiny").routes()
    [small] = gateway.resolve("small").routes()
    assert local.capabilities.context_window == DEFAULT_CONTEXT == 8192
    assert small.capabilities.context_window == 4096
    assert local.capabilities.schema_grammar and not local.capabilities.supports_tools
    assert not gateway.providers["local"].loaded  # type: ignore[attr-defined]
