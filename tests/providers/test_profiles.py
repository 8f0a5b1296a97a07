"""Profiles turn one adapter into many endpoints: URLs, auth and request dialects."""

from keel.providers.profiles import get_profile


def test_azure_deployment_url_and_api_key_header() -> None:
    """Azure takes the deployment in the path, an api-version, and an ``api-key`` header."""
    azure = get_profile("azure")
    url = azure.chat_url("https://acme.openai.azure.com/", "gpt4o-prod", None)
    assert (
        url
        == "https://acme.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    )
    assert azure.auth_headers("k") == {"api-key": "k"}
    assert "model" not in azure.prepare({"model": "gpt4o-prod", "messages": []}, "gpt4o-prod")


def test_openai_reasoning_models_get_max_completion_tokens() -> None:
    """o-series and gpt-5 models refuse ``max_tokens``; the profile renames it."""
    openai = get_profile("openai")
    assert openai.prepare({"max_tokens": 5}, "o3-mini") == {"max_completion_tokens": 5}
    assert openai.prepare({"max_tokens": 5}, "gpt-4o") == {"max_tokens": 5}


def test_self_hosted_profiles_need_no_key() -> None:
    """vLLM, Ollama and llama.cpp run without keys and accept assistant prefill."""
    for name in ("vllm", "ollama", "llamacpp"):
        profile = get_profile(name)
        assert not profile.needs_key
        assert profile.capabilities.supports_prefill
    assert get_profile("ollama").auth_headers("ignored") == {}


def test_gemini_drops_params_it_rejects() -> None:
    """Gemini's OpenAI endpoint is sent only parameters it accepts."""
    body = get_profile("gemini").prepare({"seed": 1, "temperature": 0}, "gemini-2.0-flash")
    assert body == {"temperature": 0}
