"""Keel's own OpenAPI document: complete for every endpoint, every reference resolvable."""

from __future__ import annotations

from typing import Any

import jsonschema

from keel.server.openapi import DOCUMENT


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def test_every_reference_resolves() -> None:
    """Each $ref names a schema in components."""
    schemas = DOCUMENT["components"]["schemas"]
    for ref in refs(DOCUMENT):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_endpoints_and_error_statuses() -> None:
    """The public endpoints are described, with the error statuses a client can meet."""
    paths = DOCUMENT["paths"]
    assert set(paths) >= {"/v1/chat/completions", "/v1/embeddings", "/v1/models", "/healthz", "/readyz"}
    chat = paths["/v1/chat/completions"]["post"]
    assert {"200", "400", "401", "404", "413", "429", "500", "502", "503", "504"} <= set(chat["responses"])
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}


def test_request_schema_accepts_and_refuses_like_the_server() -> None:
    """The chat request schema takes a minimal request and refuses one without messages."""
    root = {**DOCUMENT, "$ref": "#/components/schemas/CreateChatCompletionRequest"}
    validator = jsonschema.Draft202012Validator(root)
    assert validator.is_valid({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert not validator.is_valid({"model": "m", "messages": []})
    assert not validator.is_valid({"model": "m", "messages": [{"role": "user"}], "keel": {"x": 1}})


def test_the_messages_endpoint_is_described_in_anthropics_shapes() -> None:
    """/v1/messages takes Anthropic's request, answers a Message or events, errs in Anthropic's shape."""
    post = DOCUMENT["paths"]["/v1/messages"]["post"]
    assert {"200", "400", "401", "404", "413", "429", "500", "504", "529"} <= set(post["responses"])
    assert post["responses"]["529"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AnthropicErrorResponse"
    )
    root = {**DOCUMENT, "$ref": "#/components/schemas/AnthropicMessagesRequest"}
    validator = jsonschema.Draft202012Validator(root)
    good = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "max_tokens": 0})
    assert not validator.is_valid({**good, "messages": [{"role": "system", "content": "x"}]})


def test_token_counting_is_described_in_anthropics_shapes() -> None:
    """/v1/messages/count_tokens takes a Messages body without max_tokens and answers a count."""
    post = DOCUMENT["paths"]["/v1/messages/count_tokens"]["post"]
    assert {"200", "400", "404", "429", "529"} <= set(post["responses"])
    assert {"x-keel-cache", "x-keel-route"} <= set(post["responses"]["200"]["headers"])
    assert {"anthropic-beta", "cache-control"} <= {p["name"] for p in post["parameters"]}
    request = jsonschema.Draft202012Validator(
        {**DOCUMENT, "$ref": "#/components/schemas/AnthropicCountTokensRequest"}
    )
    assert request.is_valid({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert not request.is_valid({"model": "m", "messages": []})
    answer = jsonschema.Draft202012Validator({**DOCUMENT, "$ref": "#/components/schemas/AnthropicTokenCount"})
    assert answer.is_valid({"input_tokens": 12}) and not answer.is_valid({"input_tokens": -1})


def test_the_admin_api_and_the_cache_headers_are_described() -> None:
    """Every admin operation needs the master key (401) and is off without one (403); the cache's
    request and response headers are documented on chat completions."""
    paths = DOCUMENT["paths"]
    admin = {path: methods for path, methods in paths.items() if path.startswith("/admin/")}
    named = {"/admin/keys", "/admin/keys/{key_id}", "/admin/usage", "/admin/calls", "/admin/cache"}
    assert set(admin) == named
    for methods in admin.values():
        for operation in methods.values():
            assert {"200", "401", "403"} <= set(operation["responses"]) or "201" in operation["responses"]
            assert {"401", "403"} <= set(operation["responses"])
    chat = paths["/v1/chat/completions"]["post"]
    assert {"x-keel-cache", "x-keel-cache-ttl", "cache-control"} <= {p["name"] for p in chat["parameters"]}
    headers = chat["responses"]["200"]["headers"]
    assert {"x-keel-cache", "x-keel-cache-age", "x-keel-coalesced", "x-keel-budget-remaining"} <= set(headers)


def test_the_prompt_endpoints_are_described() -> None:
    """/v1/prompts/{name}/completions takes variables and answers a completion or its stream;
    /v1/feedback takes a request id and a score and answers 201."""
    post = DOCUMENT["paths"]["/v1/prompts/{name}/completions"]["post"]
    assert set(post["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert "x-keel-prompt" in post["responses"]["200"]["headers"]
    feedback = {**DOCUMENT, "$ref": "#/components/schemas/FeedbackRequest"}
    validator = jsonschema.Draft202012Validator(feedback)
    assert validator.is_valid({"request_id": "abc", "score": 1})
    assert not validator.is_valid({"request_id": "abc", "score": "great"})
    assert "201" in DOCUMENT["paths"]["/v1/feedback"]["post"]["responses"]
