"""Profiles of OpenAI-compatible endpoints: URL, auth, capabilities and quirks over one adapter.

vLLM, Ollama, llama.cpp, Azure OpenAI, Gemini and the rest speak the OpenAI wire format with small
differences. Each difference is data here; ``OpenAIProvider`` reads it, so no endpoint gets a copy of
the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..route import Capabilities

__all__ = ["LLAMACPP_CAPABILITIES", "PROFILES", "Profile", "get_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How one kind of OpenAI-compatible endpoint differs from OpenAI itself."""

    name: str
    base_url: str | None = None
    auth: Literal["bearer", "api-key", "none"] = "bearer"
    needs_key: bool = True
    capabilities: Capabilities = field(default_factory=Capabilities)
    drop_params: frozenset[str] = frozenset()
    deployment_urls: bool = False
    api_version: str | None = None
    completion_tokens_field: bool = False
    close_after_stream: bool = False

    def chat_url(
        self,
        base_url: str,
        upstream_model: str,
        api_version: str | None = None,
        endpoint: str = "chat/completions",
    ) -> str:
        """The URL of ``endpoint`` (chat completions unless told) for one upstream model."""
        base = base_url.rstrip("/")
        if not self.deployment_urls:
            return f"{base}/{endpoint}"
        version = api_version or self.api_version
        return f"{base}/openai/deployments/{upstream_model}/{endpoint}?api-version={version}"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        if not api_key or self.auth == "none":
            return {}
        if self.auth == "api-key":
            return {"api-key": api_key}
        return {"authorization": f"Bearer {api_key}"}

    def prepare(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """Adjust a request body to this endpoint's dialect."""
        for name in self.drop_params:
            body.pop(name, None)
        if self.deployment_urls:
            body.pop("model", None)  # Azure takes the deployment from the URL
        if self.completion_tokens_field and _is_reasoning_model(upstream_model) and "max_tokens" in body:
            body.setdefault("max_completion_tokens", body.pop("max_tokens"))
        if not self.capabilities.supports_stream_usage:
            body.pop("stream_options", None)
        return body


def _is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning models refuse ``max_tokens`` and want ``max_completion_tokens``."""
    name = model.rsplit("/", 1)[-1]
    return name.startswith(("o1", "o3", "o4", "gpt-5"))


_SELF_HOSTED = Capabilities(supports_prefill=True, supports_json_schema=True)
LLAMACPP_CAPABILITIES = Capabilities(supports_prefill=True, supports_json_schema=True, schema_grammar=True)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("openai", base_url="https://api.openai.com/v1", completion_tokens_field=True),
        Profile(
            "azure",
            auth="api-key",
            deployment_urls=True,
            api_version="2024-10-21",
            completion_tokens_field=True,
        ),
        Profile("vllm", needs_key=False, capabilities=_SELF_HOSTED),
        Profile(
            "ollama",
            base_url="http://127.0.0.1:11434/v1",
            needs_key=False,
            auth="none",
            capabilities=_SELF_HOSTED,
        ),
        Profile(
            "llamacpp",
            base_url="http://127.0.0.1:8080/v1",
            needs_key=False,
            capabilities=LLAMACPP_CAPABILITIES,
            close_after_stream=True,  # its server drops a kept-alive connection after each stream
        ),
        Profile(
            "gemini",
            base_url="https://generativelanguage.googleapis.com/v1beta/openai",
            drop_params=frozenset({"seed", "logit_bias", "user", "frequency_penalty", "presence_penalty"}),
        ),
        Profile(
            "groq",
            base_url="https://api.groq.com/openai/v1",
            drop_params=frozenset({"logit_bias", "logprobs", "top_logprobs"}),
        ),
        Profile("together", base_url="https://api.together.xyz/v1"),
        Profile("openrouter", base_url="https://openrouter.ai/api/v1"),
        Profile(
            "deepseek",
            base_url="https://api.deepseek.com/v1",
            capabilities=Capabilities(supports_prefill=False, supports_json_schema=False),
        ),
        Profile("mistral", base_url="https://api.mistral.ai/v1"),
        Profile("generic", needs_key=False),
    )
}


def get_profile(name: str) -> Profile:
    """The profile by name; the error lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"unknown profile {name!r}; known profiles: {known}") from None
