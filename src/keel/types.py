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


@dataclass(slots=True, unsafe_hash=True)
class Native:
    """The provider's (or client's) own encoding of one object, kept so that a client speaking the
    same format gets it unchanged (DESIGN §3a): a JSON body, or one SSE event of a stream.

    A value (equal by its fields, hashable), never changed once made; not ``frozen`` because a stream
    makes one per event and a frozen dataclass is slow to build.
    """

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
    reason: str = "first"  # why it was made: first, retry, fallback, continuation, reask (DESIGN's words)
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
    prompt: str | None = Field(default=None, exclude=True)  # the prompt version that served it: name@3
    request_id: str | None = Field(default=None, exclude=True)  # Keel's id of the call (gw.feedback takes it)

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


class Chunk:
    """One streamed piece of an answer, in OpenAI's chunk shape.

    Light by design: a chunk relayed through the gateway keeps its choices as the plain dicts its
    upstream sent (checked where the gateway reads them), and its wire bytes in ``native``. The
    accessors the gateway and its policies use (``text``, ``bears_content``, ``finishes``,
    ``deltas``, ``tool_argument_deltas``) read those dicts; ``choices`` builds the validated
    ``ChunkChoice`` models on first use, and from then on they are the chunk's choices (a change to
    them is what is re-encoded). Made with ``choices`` as dicts, a chunk takes them as checked.
    """

    __slots__ = (
        "_choices",
        "_extra",
        "_raw",
        "created",
        "id",
        "model",
        "native",
        "object",
        "upstream_request_id",
        "usage",
    )

    def __init__(
        self,
        *,
        id: str = "",  # the wire fields' names
        object: str = "chat.completion.chunk",
        created: int = 0,
        model: str = "",
        choices: list[ChunkChoice] | list[dict[str, Any]] | None = None,
        usage: Usage | None = None,
        upstream_request_id: str | None = None,
        native: tuple[Native, ...] = (),
        **extra: Any,
    ) -> None:
        self.id = id
        self.object = object
        self.created = created
        self.model = model
        self.usage = usage
        self.upstream_request_id = upstream_request_id
        self.native = native
        self._extra = extra
        if choices and not isinstance(choices[0], dict):
            self._choices: list[ChunkChoice] | None = choices
            self._raw: list[dict[str, Any]] | None = None
        else:
            self._choices = None
            self._raw = choices or []  # type: ignore[assignment]

    @classmethod
    def of_wire(
        cls, body: dict[str, Any], choices: list[dict[str, Any]], native: tuple[Native, ...]
    ) -> Chunk:
        """A chunk for a parsed wire ``body`` whose ``choices`` have been checked, without copying."""
        chunk = cls.__new__(cls)
        chunk.id = body.get("id") or ""
        chunk.object = "chat.completion.chunk"
        chunk.created = body.get("created") or 0
        chunk.model = body.get("model") or ""
        chunk.usage = None
        chunk.upstream_request_id = None
        chunk.native = native
        chunk._extra = body
        chunk._choices = None
        chunk._raw = choices
        return chunk

    def __repr__(self) -> str:
        return f"Chunk(id={self.id!r}, model={self.model!r}, choices={self.choices!r}, usage={self.usage!r})"

    @property
    def choices(self) -> list[ChunkChoice]:
        """The choices as validated models (built once, on first use)."""
        if self._choices is None:
            self._choices = [
                ChunkChoice.model_validate(
                    choice if choice.get("delta") is not None else {**choice, "delta": {}}
                )
                for choice in self._raw or ()
            ]
            self._raw = None
        return self._choices

    @choices.setter
    def choices(self, value: list[ChunkChoice]) -> None:
        self._choices, self._raw = value, None

    @property
    def has_choices(self) -> bool:
        """Whether the chunk carries any choice (the usage-only last chunk does not)."""
        return bool(self._raw if self._choices is None else self._choices)

    def deltas(self) -> list[tuple[int, dict[str, Any], str | None]]:
        """``(index, delta, finish_reason)`` per choice, the delta as a wire dict (tool calls too)."""
        raw = self._raw
        if self._choices is None:
            if raw and len(raw) == 1:  # the usual chunk: one choice
                c = raw[0]
                return [(c.get("index") or 0, c.get("delta") or {}, c.get("finish_reason"))]
            return [(c.get("index") or 0, c.get("delta") or {}, c.get("finish_reason")) for c in raw or ()]
        return [(c.index, c.delta.wire(), c.finish_reason) for c in self._choices]

    @property
    def text(self) -> str:
        """The text this chunk adds."""
        raw = self._raw
        if self._choices is None:
            if raw and len(raw) == 1:  # the usual chunk: one choice
                return (raw[0].get("delta") or {}).get("content") or ""
            return "".join((c.get("delta") or {}).get("content") or "" for c in raw or ())
        return "".join(choice.delta.content or "" for choice in self._choices)

    def bears_content(self) -> bool:
        """True for text, a tool-call delta, or a finish: what commits a stream (DESIGN §1)."""
        if self._choices is None:
            for choice in self._raw or ():
                delta = choice.get("delta") or {}
                if delta.get("content") or delta.get("tool_calls") or choice.get("finish_reason"):
                    return True
            return False
        return any(
            choice.delta.content or choice.delta.tool_calls or choice.finish_reason
            for choice in self._choices
        )

    def finishes(self) -> list[tuple[int, str]]:
        """``(index, finish_reason)`` of each choice this chunk finishes."""
        raw = self._raw
        if self._choices is None:
            if raw and len(raw) == 1:  # the usual chunk: one choice, most often unfinished
                c = raw[0]
                return [(c.get("index") or 0, c["finish_reason"])] if c.get("finish_reason") else []
            return [(c.get("index") or 0, c["finish_reason"]) for c in raw or () if c.get("finish_reason")]
        return [(c.index, c.finish_reason) for c in self._choices if c.finish_reason]

    def tool_argument_deltas(self) -> list[tuple[int, int, str]]:
        """``(choice index, tool-call index, arguments text)`` of each tool-call delta with arguments."""
        found = []
        for index, delta, _ in self.deltas():
            for position, call in enumerate(delta.get("tool_calls") or ()):
                arguments = (call.get("function") or {}).get("arguments")
                if arguments:
                    found.append((index, call.get("index", position), arguments))
        return found

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict, without fields that were never set (usage is left out)."""
        body = {key: value for key, value in self._extra.items() if value is not None and key not in _OWN}
        body.update(id=self.id, object=self.object, created=self.created, model=self.model)
        if self._choices is None:
            body["choices"] = [_without_none(choice) for choice in self._raw or ()]
        else:
            body["choices"] = [choice.wire() for choice in self._choices]
        return body

    def to_openai(self) -> dict[str, Any]:
        """The chunk in OpenAI's wire shape."""
        body = self.wire()
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return body


_OWN = frozenset(("id", "object", "created", "model", "choices", "usage"))


def _without_none(value: Any) -> Any:
    """``value`` with None-valued keys left out, at every depth (as ``wire()`` leaves them out)."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
