"""Named prompts at the front door: ``POST /v1/prompts/{name}/completions`` (Portkey's shape:
``variables`` beside the usual fields) and a ``prompt`` object on ``/v1/chat/completions`` (for SDK
users, through ``extra_body``).

Either way the body's ``messages`` (if any) follow the rendered ones, ``stream`` streams, and
``model`` or parameters are overrides the version must allow; the prompt policy renders the request
(``keel.policies.prompt``), and the answer carries ``x-keel-prompt: name@version``.
"""

from __future__ import annotations

from typing import Any

from ..prompts.request import parse_prompt_field, unrendered
from ..types import ChatRequest
from .call_flow import answer_stream, answer_whole, start_call
from .context import ApiContext
from .errors import ApiError
from .exchange import Exchange
from .openai_wire import encode_response, json_object
from .options import keel_options
from .sse import SSE_HEADERS, OpenAIFrames

__all__ = ["anthropic_prompt_request", "prompt_completions", "prompt_request", "run_prompt_call"]

_PREFIX = "/v1/prompts/"
_SUFFIX = "/completions"


def prompt_request(
    body: dict[str, Any], prompt: Any, options: dict[str, Any]
) -> tuple[ChatRequest, bool, bool]:
    """The unrendered request of a body that names a prompt; its ``PromptRef`` goes in ``options``.

    Raises:
        ApiError, PromptError: 400 naming the field at fault.
    """
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise ApiError(400, "'stream_options' must be an object", param="stream_options")
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        raise ApiError(400, "'messages' must be an array of messages", param="messages")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "'model' must be a string", param="model")
    fields = {key: value for key, value in body.items() if key not in ("model", "messages")}
    given = {key: value for key, value in fields.items() if value is not None}
    if model:
        given["model"] = model
    ref = options["prompt_ref"] = parse_prompt_field(prompt, given)
    request = unrendered(model or f"prompt:{ref.name}", messages, fields)  # until rendered (spans, logs)
    include_usage = bool(stream and stream_options and stream_options.get("include_usage") is True)
    return request, bool(stream), include_usage


def anthropic_prompt_request(
    body: dict[str, Any], prompt: Any, options: dict[str, Any]
) -> tuple[ChatRequest, bool]:
    """As ``prompt_request``, for a body in Anthropic's Messages shape (``/v1/messages``): its
    ``messages`` follow the rendered ones; ``system`` comes from the prompt alone.

    Raises:
        ApiError, PromptError: 400 naming the field at fault.
    """
    from ..formats.anthropic_messages import from_anthropic_messages

    if body.get("system"):
        raise ApiError(
            400, "system: with a prompt, the system text is the prompt's; leave it out", param="system"
        )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream: must be true or false", param="stream")
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        raise ApiError(400, "messages: must be an array of messages", param="messages")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "model: must be a string", param="model")
    fields: dict[str, Any] = {}
    pairs = (("max_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p"))
    for ours, theirs in (*pairs, ("stop", "stop_sequences")):
        if body.get(theirs) is not None:
            fields[ours] = body[theirs]
    given = dict(fields)
    if model:
        given["model"] = model
    user = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if user:
        fields["user"] = user
    if stream is not None:
        fields["stream"] = stream
    ref = options["prompt_ref"] = parse_prompt_field(prompt, given)
    request = unrendered(model or f"prompt:{ref.name}", from_anthropic_messages(None, messages), fields)
    return request, bool(stream)


async def run_prompt_call(
    ctx: ApiContext,
    ex: Exchange,
    request: ChatRequest,
    stream: bool,
    include_usage: bool,
    options: dict[str, Any],
) -> None:
    """Answer a prompt call whole or streamed, as ``/v1/chat/completions`` answers."""
    start_call(ctx, ex, request, stream=stream, options=options)
    if stream:
        await answer_stream(ctx, ex, SSE_HEADERS, lambda _first: OpenAIFrames(include_usage))
    else:
        await answer_whole(ctx, ex, encode_response)


async def prompt_completions(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/prompts/{name}/completions``: ``{"variables": {...}, "label" | "version", ...}``;
    ``name@3`` and ``name@label`` in the path work too."""
    name = ex.path[len(_PREFIX) :]
    if not name.endswith(_SUFFIX) or not name[: -len(_SUFFIX)] or "/" in name[: -len(_SUFFIX)]:
        raise ApiError(
            404,
            f"no such endpoint: {ex.method} {ex.path}; use POST /v1/prompts/{{name}}/completions",
            code="not_found",
        )
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    if "prompt" in body:
        raise ApiError(400, "the prompt is named in the path; leave 'prompt' out of the body", param="prompt")
    prompt = {"name": name[: -len(_SUFFIX)]}
    for key in ("label", "version", "variables"):
        if key in body:
            prompt[key] = body.pop(key)
    request, stream, include_usage = prompt_request(body, prompt, options)
    await run_prompt_call(ctx, ex, request, stream, include_usage, options)
