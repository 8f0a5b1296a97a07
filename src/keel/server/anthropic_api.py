"""``POST /v1/messages``: Anthropic's Messages API in front of any route, streamed or not.

The request is read in Anthropic's format (``anthropic_wire``) and called like any other; an
Anthropic route receives the client's body unchanged and its answer comes back as its own bytes,
any other route's answer is translated. A stream sends its headers only once the gateway returns
it — after the commit point (DESIGN §1) — so every failure before the first content is an ordinary
error response in Anthropic's shape; after it, a failure ends the stream with an ``error`` event.
"""

from __future__ import annotations

from ..structured.enforce import enforced_output
from .anthropic_sse import SSE_HEADERS, AnthropicEvents
from .anthropic_wire import encode_message, messages_request
from .call_flow import answer_one_shot, answer_stream, answer_whole, start_call
from .caller import may_use, tenant_of
from .context import ApiContext
from .errors import ApiError
from .exchange import Exchange
from .openai_wire import json_object
from .options import keel_options
from .prompt_api import anthropic_prompt_request
from .token_count import count_tokens

__all__ = ["count_message_tokens", "messages", "messages_elsewhere"]


async def messages(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/messages``."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    prompt = body.pop("prompt", None)
    if prompt is not None:  # a named prompt (extra_body): rendered by the prompt policy
        request, stream = anthropic_prompt_request(body, prompt, options)
    else:
        request, stream = messages_request(body, ex.headers)
        if not may_use(ex.principal, request.model):
            raise ApiError(403, f"this key may not use model {request.model!r}", param="model")
        output = enforced_output(request, options.pop("validate", None), ctx.gateway.config.structured_output)
        if output is not None:  # a forced tool's input (x-keel-validate, or the model's config)
            options["output"] = output
    start_call(ctx, ex, request, stream=stream, options=options)
    if stream:
        model = request.model
        await answer_stream(
            ctx, ex, SSE_HEADERS, lambda first: AnthropicEvents(first.model if first else model)
        )
    else:
        await answer_whole(ctx, ex, encode_message)


async def count_message_tokens(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/messages/count_tokens``: counted by the first Claude route of the model's cascade."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model: Field required (a non-empty string)", param="model")
    given = body.get("messages")
    if not isinstance(given, list) or not given or not all(isinstance(m, dict) for m in given):
        raise ApiError(400, "messages: Field required (a non-empty array of messages)", param="messages")
    if not may_use(ex.principal, model):
        raise ApiError(403, f"this key may not use model {model!r}", param="model")
    timeout = options.get("timeout", ctx.gateway.config.timeouts.total)
    beta = ex.headers.get("anthropic-beta")
    tenant = tenant_of(ex.principal, ctx.gateway.config.cache.tenant)
    caller = ex.principal
    if caller is not None:  # which guards' markers apply: the key's and its team's
        options = {**options, "key_id": caller.key_id, "team": caller.team}
    await answer_one_shot(ex, count_tokens(ctx.gateway, model, body, timeout, beta, tenant, options))


async def messages_elsewhere(ctx: ApiContext, ex: Exchange) -> None:
    """``/v1/messages/...`` (batches): not served, said in Anthropic's shape."""
    raise ApiError(
        404,
        f"Keel does not serve {ex.method} {ex.path}; only POST /v1/messages and /v1/messages/count_tokens",
    )
