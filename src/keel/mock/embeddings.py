"""The mock's ``POST /v1/embeddings``: deterministic vectors, and the error behaviours by model name."""

from __future__ import annotations

import hashlib
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from . import statuses
from .exchange import Exchange
from .one_shot_faults import fault_reply
from .spec import ParamError, parse_model
from .state import STATE
from .wire import new_id

__all__ = ["embeddings"]

_DIMENSIONS = 8


async def embeddings(request: web.Request) -> web.Response:
    """One vector per input (``dimensions`` long, default 8), derived from the input's text.

    The model name picks a behaviour as for chat: ``rate-limit``, ``error-500``, ``error-503`` or
    ``overloaded``, ``auth-error`` and ``not-found`` answer with that error (honouring ``times``);
    others answer.
    """
    state = request.app[STATE]
    try:
        body: Any = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    inputs = body.get("input") if isinstance(body, dict) else None
    spec = parse_model(model) if isinstance(model, str) and model else None
    entry = state.log.record(
        model=model if isinstance(model, str) else None,
        behaviour=spec.behaviour if spec else None,
        stream=False,
        body=body,
        headers=request.headers,
        request_id=new_id("req_mock_"),
    )
    headers = {"x-request-id": entry["request_id"]}
    if spec is None or not isinstance(body, dict) or inputs in (None, "", []):
        state.log.update(entry, outcome="400_invalid_request", ended_at=time.monotonic())
        message = "'input' and 'model' are required."
        return statuses.error_reply(400, message, "invalid_request_error", None, "input", headers)
    ex = Exchange(request, body, spec, entry, state)
    try:
        spec.check()
    except ParamError as error:
        ex.finish("400_invalid_request")
        return statuses.error_reply(400, str(error), "invalid_request_error", None, "model", headers)
    fault = fault_reply(ex)
    if fault is not None:
        return fault
    texts = inputs if isinstance(inputs, list) else [inputs]
    dimensions = body.get("dimensions")
    size = dimensions if isinstance(dimensions, int) else _DIMENSIONS
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(orjson.dumps(text), max(size, 1))}
        for i, text in enumerate(texts)
    ]
    tokens = sum(len(str(text).split()) or 1 for text in texts)
    payload = {
        "object": "list",
        "data": data,
        "model": spec.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    ex.finish("ok")
    return web.Response(body=orjson.dumps(payload), content_type="application/json", headers=headers)


def _vector(seed: bytes, size: int) -> list[float]:
    """``size`` floats in [-1, 1) that depend only on ``seed``."""
    values: list[float] = []
    counter = 0
    while len(values) < size:
        digest = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        values.extend(v / 2**31 for v in struct.unpack(">8i", digest))
        counter += 1
    return values[:size]
