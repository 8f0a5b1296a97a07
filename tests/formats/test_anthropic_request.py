"""Requests OpenAI ⇄ Anthropic: what is mapped, hoisted, merged, emulated, clamped, dropped and refused."""

from __future__ import annotations

from typing import Any

import pytest

from keel.errors import RequestError
from keel.formats.anthropic_request import (
    DEFAULT_MAX_TOKENS,
    IGNORED_OPENAI_PARAMS,
    from_anthropic_request,
    to_anthropic_request,
)
from keel.formats.anthropic_structured import supports_native_structured_output
from keel.formats.anthropic_tools import JSON_OBJECT_INSTRUCTION, JSON_TOOL
from keel.types import ChatRequest, Message

from .sdk_check import check_request

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
}
PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
}


def request(messages: list[dict[str, Any]] | None = None, **params: Any) -> ChatRequest:
    return ChatRequest(model="claude", messages=messages or [{"role": "user", "content": "hi"}], **params)


def body(messages: list[dict[str, Any]] | None = None, **params: Any) -> dict[str, Any]:
    """The translated body, checked against the SDK's types on the way."""
    out = to_anthropic_request(request(messages, **params)).body
    check_request(out)
    return out


def test_system_and_developer_messages_are_hoisted() -> None:
    """System and developer messages, wherever they are, become the top-level ``system``."""
    out = body(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        ]
    )
    assert out["system"] == "Be brief.\nUse French."
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_system_blocks_with_cache_control_stay_blocks() -> None:
    """A system part marked with ``cache_control`` is sent as a block, so the marker survives."""
    cached = {"type": "text", "text": "Long policy.", "cache_control": {"type": "ephemeral"}}
    out = body([{"role": "system", "content": [cached]}, {"role": "user", "content": "hi"}])
    assert out["system"] == [cached]


def test_multi_turn_conversation_alternates() -> None:
    """User and assistant turns keep their order; an empty assistant turn is left out."""
    out = body(
        [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "three"},
        ]
    )
    assert out["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]


def test_images_by_url_and_by_data_url() -> None:
    """``image_url`` becomes an image block with a URL source, or a base64 source for a data URL."""
    content = [
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": PNG}},
    ]
    out = body([{"role": "user", "content": content}])
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "What are these?"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
    ]


def test_unsupported_content_is_refused_clearly() -> None:
    """An image type Anthropic does not take, or an audio part, is a RequestError naming it."""
    with pytest.raises(RequestError, match="image/tiff"):
        to_anthropic_request(
            request(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AA"}}],
                    }
                ]
            )
        )
    with pytest.raises(RequestError, match="input_audio"):
        to_anthropic_request(
            request([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])
        )


def test_tool_calls_and_results_become_blocks() -> None:
    """Assistant tool calls become ``tool_use`` blocks; tool messages become ``tool_result`` blocks of
    one user turn, ahead of the user's own text."""
    second = {**CALL, "id": "call_2", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}
    out = body(
        [
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [CALL, second]},
            {"role": "tool", "tool_call_id": "call_1", "content": "3 C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "18 C"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        tools=[WEATHER],
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
    }
    assert out["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "3 C"}]},
            {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "18 C"}]},
            {"type": "text", "text": "And tomorrow?"},
        ],
    }
    assert len(out["messages"]) == 3


def test_tool_call_arguments_must_be_a_json_object() -> None:
    """Arguments that are not a JSON object cannot become ``input``: a RequestError, not a garbled call."""
    broken = {**CALL, "function": {"name": "get_weather", "arguments": "{not json"}}
    with pytest.raises(RequestError, match="call_1"):
        to_anthropic_request(
            request([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [broken]}])
        )


def test_thinking_blocks_go_back_first() -> None:
    """An assistant turn's ``thinking_blocks`` (from an earlier Anthropic answer) open it, unchanged."""
    thinking = {"type": "thinking", "thinking": "Hmm.", "signature": "sig"}
    out = body(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [CALL], "thinking_blocks": [thinking]},
            {"role": "tool", "tool_call_id": "call_1", "content": "3 C"},
        ],
        tools=[WEATHER],
    )
    assert out["messages"][1]["content"][0] == thinking


def test_tools_lose_strict_and_gain_input_schema() -> None:
    """A function tool becomes ``{name, description, input_schema}``; ``strict`` is dropped."""
    out = body(tools=[WEATHER, {"type": "function", "function": {"name": "now"}}])
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(choice: Any, parallel: Any, expected: dict[str, Any]) -> None:
    """``tool_choice`` auto/none/required/named map to auto/none/any/tool; ``parallel_tool_calls`` too."""
    params: dict[str, Any] = {"tools": [WEATHER], "tool_choice": choice}
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    assert body(**params)["tool_choice"] == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    """Anthropic refuses a tool_choice without tools, so none is sent."""
    assert "tool_choice" not in body(tool_choice="auto")


def test_stop_becomes_stop_sequences_without_whitespace_ones() -> None:
    """``stop`` (a string or a list) becomes ``stop_sequences``; whitespace-only sequences are dropped."""
    assert body(stop="END")["stop_sequences"] == ["END"]
    assert body(stop=["END", "\n", "###"])["stop_sequences"] == ["END", "###"]


def test_max_tokens_from_request_else_route_else_default() -> None:
    """Anthropic requires max_tokens: the request's (either field), else the route's maximum, else 4096."""
    assert to_anthropic_request(request(max_completion_tokens=50), max_tokens=900).body["max_tokens"] == 50
    assert to_anthropic_request(request(max_tokens=60)).body["max_tokens"] == 60
    assert to_anthropic_request(request(), max_tokens=900).body["max_tokens"] == 900
    assert to_anthropic_request(request()).body["max_tokens"] == DEFAULT_MAX_TOKENS == 4096


def test_temperature_is_clamped_and_top_p_yields_to_it() -> None:
    """Temperature is clamped to Anthropic's [0, 1]; top_p is sent alone, never beside temperature."""
    assert body(temperature=1.7)["temperature"] == 1.0
    assert body(temperature=-0.5)["temperature"] == 0.0
    both = body(temperature=0.3, top_p=0.9)
    assert both["temperature"] == 0.3 and "top_p" not in both
    assert body(top_p=0.9)["top_p"] == 0.9


def test_n_above_one_is_refused() -> None:
    """Anthropic gives one answer per request: ``n`` > 1 is a clear RequestError; n=1 is fine."""
    with pytest.raises(RequestError, match="n=3"):
        to_anthropic_request(request(n=3))
    assert "n" not in body(n=1)


def test_json_schema_is_asked_for_with_a_forced_tool() -> None:
    """``response_format`` json_schema becomes a tool with that input schema, forced by tool_choice."""
    translated = to_anthropic_request(request(response_format=SCHEMA))
    check_request(translated.body)
    assert translated.json_tool == JSON_TOOL
    assert translated.body["tools"][-1]["input_schema"] == SCHEMA["json_schema"]["schema"]  # type: ignore[index]
    assert translated.body["tools"][-1]["name"] == JSON_TOOL
    assert translated.body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}


def test_json_schema_with_the_callers_tools_lets_either_be_called() -> None:
    """With the caller's tools too, any tool must be called: one of theirs, or the JSON answer."""
    out = body(response_format=SCHEMA, tools=[WEATHER])
    assert [tool["name"] for tool in out["tools"]] == ["get_weather", JSON_TOOL]
    assert out["tool_choice"] == {"type": "any"}


def test_json_schema_while_thinking_asks_in_the_prompt() -> None:
    """Anthropic refuses a forced tool while thinking, so the JSON tool is offered and asked for in words."""
    out = body(response_format=SCHEMA, thinking={"type": "enabled", "budget_tokens": 1024})
    assert out["tool_choice"] == {"type": "auto"}
    assert JSON_TOOL in out["system"]


def test_json_object_is_asked_for_in_the_system_prompt() -> None:
    """``json_object`` has no Anthropic switch: a system instruction asks for one JSON object."""
    out = body(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert out["system"] == f"Be brief.\n{JSON_OBJECT_INSTRUCTION}"


def test_parameters_anthropic_lacks_are_dropped() -> None:
    """Every parameter Anthropic's compatibility notes list as ignored, and unknown fields, are left out."""
    params = {name: 1 for name in IGNORED_OPENAI_PARAMS} | {"n": 1, "x_custom": "y", "stream_options": {}}
    out = body(**params)
    assert set(out) == {"model", "max_tokens", "messages"}
    assert {
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "seed",
        "logprobs",
    } <= IGNORED_OPENAI_PARAMS


def test_user_becomes_metadata_user_id() -> None:
    """OpenAI's ``user`` is Anthropic's ``metadata.user_id``."""
    assert body(user="u-42")["metadata"] == {"user_id": "u-42"}


def test_anthropic_only_fields_pass_through() -> None:
    """``thinking``, ``top_k`` and ``cache_control`` added to an OpenAI-format request reach Anthropic."""
    thinking = {"type": "enabled", "budget_tokens": 2048}
    out = body(thinking=thinking, top_k=5, cache_control={"type": "ephemeral"})
    assert out["thinking"] == thinking and out["top_k"] == 5 and out["cache_control"] == {"type": "ephemeral"}


def test_anthropic_request_becomes_canonical() -> None:
    """An Anthropic body becomes a canonical request: system, tool use and results, images, choices, stops."""
    native = {
        "model": "claude-haiku-4-5",
        "max_tokens": 300,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 C"}],
            },
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.2,
        "top_k": 3,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stream": True,
    }
    canonical = from_anthropic_request(native)
    assert canonical.native is native and canonical.native_format == "anthropic"
    assert [m.wire() for m in canonical.messages] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "3 C", "tool_call_id": "toolu_1"},
    ]
    assert (
        canonical.tool_choice == "required" and (canonical.model_extra or {})["parallel_tool_calls"] is False
    )
    assert canonical.tools is not None and canonical.tools[0].function["parameters"] == {"type": "object"}
    assert (canonical.max_tokens, canonical.stop, canonical.temperature, canonical.user) == (
        300,
        ["END"],
        0.2,
        "u-1",
    )
    assert canonical.stream is True
    assert "thinking" not in canonical.wire() and "top_k" not in canonical.wire()


def test_anthropic_only_content_is_refused_for_other_routes() -> None:
    """Server tools and documents by URL have no OpenAI form: a RequestError naming them."""
    server_tool = {"type": "web_search_20250305", "name": "web_search"}
    with pytest.raises(RequestError, match="web_search_20250305"):
        from_anthropic_request(
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [server_tool],
            }
        )
    document = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
    with pytest.raises(RequestError, match="document"):
        from_anthropic_request(
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [document]}]}
        )
    with pytest.raises(RequestError, match="max_tokens"):
        from_anthropic_request(
            {"model": "m", "max_tokens": "many", "messages": [{"role": "user", "content": "x"}]}
        )


def test_round_trip_keeps_the_conversation() -> None:
    """OpenAI → Anthropic → OpenAI gives back the same conversation, tools and choices."""
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Look:"}, {"type": "image_url", "image_url": {"url": PNG}}],
        },
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "3 C"},
    ]
    original = request(
        messages, tools=[WEATHER], tool_choice="required", stop=["END"], max_tokens=77, user="u"
    )
    back = from_anthropic_request(to_anthropic_request(original).body)
    assert [m.role for m in back.messages] == ["system", "user", "assistant", "tool"]
    assert back.messages[1].wire() == original.messages[1].wire()
    assert back.messages[2].tool_calls is not None
    assert back.messages[2].tool_calls[0].function.name == "get_weather"
    assert back.messages[3].text() == "3 C"
    assert (back.tool_choice, back.stop, back.max_tokens, back.user) == ("required", ["END"], 77, "u")


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("claude-sonnet-4-5-20250929", True),
        ("claude-sonnet-4-5", True),
        ("claude-haiku-4-5", True),
        ("claude-opus-4-1-20250805", True),
        ("claude-opus-4-5", True),
        ("claude-opus-4-6", True),
        ("claude-sonnet-5", True),
        ("claude-sonnet-4-20250514", False),
        ("claude-opus-4-20250514", False),
        ("claude-3-5-sonnet-20241022", False),
        ("claude-3-7-sonnet-latest", False),
        ("my-alias", False),
    ],
)
def test_which_claude_models_take_a_schema_natively(model: str, native: bool) -> None:
    assert supports_native_structured_output(model) is native


def test_a_strict_schema_goes_natively_and_any_other_through_the_forced_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    strict = ChatRequest(
        model="m",
        messages=[Message(role="user", content="hi")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": schema, "strict": True},
        },
        output_config={"effort": "low"},
    )
    native = to_anthropic_request(strict, native_json=True)
    assert native.json_tool is None and "tools" not in native.body
    assert native.body["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": schema},
    }
    assert to_anthropic_request(strict).json_tool == "json_output"  # the model cannot: the forced tool
    loose = strict.model_copy(
        update={"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
    )
    assert to_anthropic_request(loose, native_json=True).json_tool == "json_output"


def test_a_native_schema_on_messages_reads_as_a_strict_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    for body in (
        {"output_config": {"format": {"type": "json_schema", "schema": schema}}},
        {"output_format": {"type": "json_schema", "schema": schema}},
    ):
        request = from_anthropic_request(
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **body}
        )
        assert request.response_format == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
