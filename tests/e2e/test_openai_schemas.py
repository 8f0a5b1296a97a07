"""What the server returns validates against OpenAI's own OpenAPI schemas (pinned in tests/specs)."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import httpx2 as httpx
import jsonschema
import pytest
import yaml

from .._requires import missing
from ..specs.pin_openai import PINNED as SPEC
from .conftest import KeelFactory, RunningKeel, user


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema (the spec mixes both dialects)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "$ref" in node or "anyOf" in node or "oneOf" in node or "allOf" in node:
            node = {"anyOf": [node, {"type": "null"}]}
        elif isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
    return node


@cache
def _components() -> dict[str, Any]:
    if not SPEC.exists():
        missing(f"the OpenAI spec at {SPEC}")
    with SPEC.open() as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {"components": _json_schema(spec["components"])}


def validate(instance: Any, schema: str) -> None:
    """Raise unless ``instance`` is a valid ``components.schemas[schema]`` of OpenAI's spec."""
    root = copy.copy(_components())
    root["$ref"] = f"#/components/schemas/{schema}"
    jsonschema.Draft202012Validator(root).validate(instance)


def post(keel: RunningKeel, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{keel.v1}{path}", json=body, timeout=10)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("extra", [{}, {"tools": [TOOL]}], ids=["text", "tool_call"])
def test_chat_completion(keel: RunningKeel, uid, extra: dict[str, Any]) -> None:
    """A chat completion is a CreateChatCompletionResponse."""
    response = post(keel, "/chat/completions", {"model": f"mock/{uid('ok')}", "messages": user(), **extra})
    validate(response.json(), "CreateChatCompletionResponse")


@pytest.mark.parametrize("usage", [False, True], ids=["plain", "include_usage"])
def test_stream_chunks(keel: RunningKeel, uid, usage: bool) -> None:
    """Every streamed chunk is a CreateChatCompletionStreamResponse."""
    body = {"model": f"mock/{uid('ok')}", "messages": user(), "stream": True, "tools": [TOOL]}
    if usage:
        body["stream_options"] = {"include_usage": True}
    text = post(keel, "/chat/completions", body).text
    events = [event.removeprefix("data: ") for event in text.split("\n\n") if event]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        validate(json.loads(event), "CreateChatCompletionStreamResponse")


def test_locally_encoded_answers(keel_for: KeelFactory, uid) -> None:
    """Answers Keel encodes itself (a stream collected for a non-streaming caller) are valid too."""
    from keel.server.openai_wire import encode_response
    from keel.types import ChatResponse, Choice, Message, Usage

    response = ChatResponse(
        id="x", created=1, model="m", choices=[Choice(message=Message(role="assistant", content="hi"))]
    )
    response.usage = Usage(input_tokens=1, output_tokens=1)
    validate(json.loads(encode_response(response)), "CreateChatCompletionResponse")


def test_models(keel: RunningKeel) -> None:
    """GET /v1/models is a ListModelsResponse; one model is a Model."""
    validate(httpx.get(f"{keel.v1}/models").json(), "ListModelsResponse")
    validate(httpx.get(f"{keel.v1}/models/fast").json(), "Model")


def test_embeddings(keel: RunningKeel, uid) -> None:
    """An embeddings answer is a CreateEmbeddingResponse, with Keel's route and attempt headers."""
    model = f"mock/{uid('ok')}"
    response = post(keel, "/embeddings", {"model": model, "input": "hi"})
    validate(response.json(), "CreateEmbeddingResponse")
    assert response.headers["x-keel-route"] == model and response.headers["x-keel-attempts"] == "1"


@pytest.mark.parametrize(
    ("body", "status"),
    [({"model": "nope", "messages": user()}, 404), ({"model": "fast"}, 400)],
    ids=["404", "400"],
)
def test_errors(keel: RunningKeel, body: dict[str, Any], status: int) -> None:
    """Errors are an ErrorResponse."""
    response = post(keel, "/chat/completions", body)
    assert response.status_code == status
    validate(response.json(), "ErrorResponse")


def test_stream_error_event(keel: RunningKeel, uid) -> None:
    """The error event that ends a broken stream is an ErrorResponse."""
    text = post(
        keel, "/chat/completions", {"model": f"mock/{uid('cut:after=2')}", "messages": user(), "stream": True}
    ).text
    last = [event for event in text.split("\n\n") if event][-1]
    validate(json.loads(last.removeprefix("data: ")), "ErrorResponse")
