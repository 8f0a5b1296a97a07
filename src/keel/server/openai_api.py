"""The OpenAI-compatible endpoints: chat completions (streamed or not), embeddings and models.

Each handler reads its request through an ``Exchange`` and raises what goes wrong; the app turns an
exception into OpenAI's error shape when nothing has been sent yet. A stream sends its headers only
once the gateway returns it — after the commit point (DESIGN §1) — so every failure before the first
content is still an ordinary JSON error with its status.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..structured.enforce import enforced_output
from .call_flow import answer_one_shot, answer_stream, answer_whole, start_call
from .caller import may_use
from .context import ApiContext
from .embeddings import embed
from .errors import ApiError
from .exchange import Exchange
from .openai_wire import chat_request, encode_response, json_object
from .options import keel_options
from .prompt_api import prompt_request, run_prompt_call
from .sse import SSE_HEADERS, OpenAIFrames

__all__ = ["chat_completions", "embeddings", "list_models", "retrieve_model"]


async def chat_completions(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/chat/completions``."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    prompt = body.pop("prompt", None)
    if prompt is not None:  # a named prompt (extra_body): rendered by the prompt policy
        request, stream, include_usage = prompt_request(body, prompt, options)
        await run_prompt_call(ctx, ex, request, stream, include_usage, options)
        return
    request, stream, include_usage = chat_request(body)
    _check_model(ex, request.model)
    output = enforced_output(request, options.pop("validate", None), ctx.gateway.config.structured_output)
    if output is not None:
        options["output"] = output
        # Strict mode constrains the answer upstream: stream it as it comes, judge it at the end.
        options["output_passthrough"] = stream and output.strict
    start_call(ctx, ex, request, stream=stream, options=options)
    if stream:
        await answer_stream(ctx, ex, SSE_HEADERS, lambda _first: OpenAIFrames(include_usage))
    else:
        await answer_whole(ctx, ex, encode_response)


async def embeddings(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/embeddings``: passed to the first route of the model's cascade that serves it."""
    body = json_object(await ex.read_body(ctx.settings.max_body_bytes))
    options = keel_options(ex.headers, body, max_timeout=ctx.gateway.config.timeouts.total)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required and must be a non-empty string", param="model")
    given = body.get("input")
    if given is None or given == "" or given == []:
        raise ApiError(400, "'input' is required: a string or an array of strings or tokens", param="input")
    _check_model(ex, model)
    timeout = options.get("timeout", ctx.gateway.config.timeouts.total)
    await answer_one_shot(ex, embed(ctx.gateway, model, body, timeout))


async def list_models(ctx: ApiContext, ex: Exchange) -> None:
    """``GET /v1/models``: the configured model names this caller may use."""
    names = [name for name in ctx.gateway.config.models if may_use(ex.principal, name)]
    await ex.respond(200, orjson.dumps({"object": "list", "data": [_model(ctx, name) for name in names]}))


async def retrieve_model(ctx: ApiContext, ex: Exchange) -> None:
    """``GET /v1/models/{model}``."""
    name = ex.path.removeprefix("/v1/models/")
    if name not in ctx.gateway.config.models or not may_use(ex.principal, name):
        raise ApiError(404, f"model {name!r} is not configured", code="model_not_found", param="model")
    await ex.respond(200, orjson.dumps(_model(ctx, name)))


def _model(ctx: ApiContext, name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": ctx.started, "owned_by": "keel"}


def _check_model(ex: Exchange, model: str) -> None:
    if not may_use(ex.principal, model):
        raise ApiError(
            403,
            f"this key may not use model {model!r}",
            type="permission_error",
            code="model_not_allowed",
            param="model",
        )
