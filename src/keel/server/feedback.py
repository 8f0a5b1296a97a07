"""``POST /v1/feedback``: a caller's score of an answer, by the answer's ``x-request-id``.

``{"request_id": "…", "score": 1, "comment": "…"}`` answers 201 with what was recorded; the score is
any finite number (a thumbs-up as 1 and down as 0, or a rating). ``keel prompts stats`` compares the
versions of a prompt by the scores their answers got.
"""

from __future__ import annotations

import orjson

from ..errors import ConfigError
from .context import ApiContext
from .errors import ApiError
from .exchange import Exchange
from .openai_wire import json_object

__all__ = ["feedback"]


async def feedback(ctx: ApiContext, ex: Exchange) -> None:
    """``POST /v1/feedback``."""
    body = json_object(await ex.read_body(64 * 1024))
    unknown = sorted(set(body) - {"request_id", "score", "comment"})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field; send request_id, score, comment", param=unknown[0])
    request_id, score, comment = body.get("request_id"), body.get("score"), body.get("comment")
    if not isinstance(request_id, str) or not request_id:
        raise ApiError(400, "request_id is required: the x-request-id of the answer", param="request_id")
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise ApiError(400, "score is required: a number", param="score")
    key_id = ex.principal.key_id if ex.principal is not None else None
    try:
        await ctx.gateway.feedback(request_id, score, comment=comment, key_id=key_id)
    except ConfigError as error:
        raise ApiError(503, str(error), type="service_unavailable", code="feedback_unavailable") from None
    await ex.respond(201, orjson.dumps({"request_id": request_id, "score": score, "recorded": True}))
