"""The canonical shapes a call travels in: OpenAI Chat Completions as the lingua franca.

Every model keeps fields it does not know (``extra="allow"``), so nothing a client sent or a provider
returned is silently dropped on the way through.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Attempt",
    "CacheStatus",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "Chunk",
    "ChunkChoice",
    "ContentPart",
    "Delta",
    "FunctionCall",
    "Message",
    "Native",
    "Tool",
    "ToolCall",
    "Usage",
]


@dataclass(frozen=True, slots=True)
class Native:
    """The provider's (or client's) own encoding of one object, kept so that a client speaking the
    same format gets it unchanged (DESIGN §3a): a JSON body, or one SSE event of a stream."""

    format: Literal["openai", "anthropic"]
    data: bytes
    event: str | None = None


class _Open(BaseModel):
    """A shape that keeps unknown fields and leaves out unset ones when dumped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, arbitrary_types_allowed=True)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict, without fields that were never set."""
        return self.model_dump(exclude_none=True, mode="json")


class ContentPart(_Open):
    """One part of a multi-part message: text, or an image by URL."""

    type: str
    text: str | None = None
    image_url: dict[str, Any] | None = None


class FunctionCall(_Open):
    name: str | None = None
    arguments: str | None = None


class ToolCall(_Open):
    id: str | None = None
    type: str | None = "function"
    function: FunctionCall
    index: int | None = None


class Message(_Open):
    """A chat message; ``content`` is text, a list of parts, or None for a tool-calling turn."""

    role: Literal["system", "developer", "user", "assistant", "tool"] | str
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text, with image parts left out."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(part.text or "" for part in self.content)


class Tool(_Open):
    type: str = "function"
    function: dict[str, Any]


class ChatRequest(_Open):
    """A chat completion request, as a client of the OpenAI API writes it."""

    model: str
    messages: list[Message] = Field(min_length=1)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    # The client's own body and its format, for a route of the same format to send unchanged. A
    # policy that changes the request clears both, so the change is what the upstream sees.
    native: dict[str, Any] | None = Field(default=None, exclude=True)
    native_format: str | None = Field(default=None, exclude=True)
    # Headers of the client's API that its provider reads too (``anthropic-beta``): a route of that
    # provider's kind sends them on.
    native_headers: dict[str, str] | None = Field(default=None, exclude=True)

    def output_limit(self) -> int | None:
        """The most output tokens the caller allowed, whichever field it used."""
        return self.max_completion_tokens or self.max_tokens


class Usage(_Open):
    """Tokens by class. ``input_tokens`` includes the cached ones; ``output_tokens`` the reasoning ones."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def from_openai(cls, raw: dict[str, Any] | None) -> Usage | None:
        """Read OpenAI's usage object (``prompt_tokens``, ``*_details``)."""
        if not raw:
            return None
        prompt_details = raw.get("prompt_tokens_details") or {}
        completion_details = raw.get("completion_tokens_details") or {}
        return cls(
            input_tokens=raw.get("prompt_tokens") or 0,
            output_tokens=raw.get("completion_tokens") or 0,
            cached_input_tokens=prompt_details.get("cached_tokens") or 0,
            cache_write_tokens=prompt_details.get("cache_write_tokens") or 0,
            reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
        )

    @classmethod
    def from_anthropic(cls, raw: dict[str, Any] | None) -> Usage | None:
        """Read Anthropic's usage object, whose ``input_tokens`` leave out cache reads and writes."""
        if not raw:
            return None
        read = raw.get("cache_read_input_tokens") or 0
        write = raw.get("cache_creation_input_tokens") or 0
        details = raw.get("output_tokens_details") or {}
        return cls(
            input_tokens=(raw.get("input_tokens") or 0) + read + write,
            output_tokens=raw.get("output_tokens") or 0,
            cached_input_tokens=read,
            cache_write_tokens=write,
            reasoning_tokens=details.get("thinking_tokens") or 0,
        )

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's usage object for this usage."""
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class Attempt(_Open):
    """One try of one route: what was tried, how it ended, how long it took."""

    route: str
    model: str
    outcome: str = "pending"
    error: str | None = None
    status: int | None = None
    started_at: float = 0.0
    duration_s: float = 0.0
    upstream_request_id: str | None = None
    usage: Usage | None = None
    delivered_bytes: int | None = None  # a stream cut before the provider reported its usage
    input_bound: int | None = None  # with delivered_bytes: the input tokens such a stream is billed for
    cost: Decimal | None = None
    tools_dropped: bool | None = None  # the route cannot call tools: it was sent the request without them


class CacheStatus(_Open):
    """How a response came from the cache: exactly or by a near-duplicate prompt, and how old it is."""

    hit: bool = True
    kind: Literal["exact", "semantic"] = "exact"
    age_s: float = 0.0
    similarity: float | None = None


class Choice(_Open):
    index: int = 0
    message: Message
    finish_reason: str | None = None


class ChatResponse(_Open):
    """A complete answer, plus what Keel knows about how it was obtained."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = Field(default=None, exclude=True)
    route: str | None = Field(default=None, exclude=True)
    attempts: list[Attempt] = Field(default_factory=list, exclude=True)
    upstream_request_id: str | None = Field(default=None, exclude=True)
    native: Native | None = Field(default=None, exclude=True)
    cache: CacheStatus | None = Field(default=None, exclude=True)  # set when answered from the cache

    @property
    def text(self) -> str:
        """The first choice's text."""
        return self.choices[0].message.text() if self.choices else ""

    def to_openai(self) -> dict[str, Any]:
        """The response in OpenAI's wire shape."""
        body = self.wire()
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return body


class Delta(_Open):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChunkChoice(_Open):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class Chunk(_Open):
    """One streamed piece of an answer."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = Field(default=None, exclude=True)
    upstream_request_id: str | None = Field(default=None, exclude=True)
    native: tuple[Native, ...] = Field(default=(), exclude=True)

    @property
    def text(self) -> str:
        """The text this chunk adds."""
        return "".join(choice.delta.content or "" for choice in self.choices)

    def bears_content(self) -> bool:
        """True for text, a tool-call delta, or a finish: what commits a stream (DESIGN §1)."""
        return any(
            choice.delta.content or choice.delta.tool_calls or choice.finish_reason for choice in self.choices
        )

    def to_openai(self) -> dict[str, Any]:
        """The chunk in OpenAI's wire shape."""
        body = self.wire()
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return body
