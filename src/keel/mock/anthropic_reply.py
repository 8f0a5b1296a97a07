"""The mock's Messages answer, healthy or faulty: one JSON ``Message``, or the event stream.

A stream goes ``message_start``; for thinking a ``thinking`` block (its deltas, a ``signature_delta``,
its stop); the answer block's ``content_block_start``, a ``ping``, one delta per token
(``text_delta`` or ``input_json_delta``), its ``content_block_stop``; ``message_delta`` with the
stop reason and output tokens; ``message_stop`` — which ``no_done`` leaves out.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .anthropic_answer import AnthropicAnswer, plan_anthropic_answer
from .anthropic_wire import MALFORMED_FRAME, event, message
from .exchange import Exchange
from .json_reply import send_body
from .stream_reply import send_frames

__all__ = ["anthropic_reply"]


async def anthropic_reply(
    ex: Exchange,
    fault: str | None = None,
    *,
    after: int = 0,
    early_headers: bool = False,
    shape: str | None = None,
) -> web.StreamResponse:
    """Answer a Messages request as ``fault`` says (see ``send_body`` and ``send_frames``), its content
    as ``shape`` says (see ``plan_anthropic_answer``)."""
    answer = plan_anthropic_answer(ex.body, ex.spec, shape)
    if not ex.stream:
        answer = answer.as_message()
        await ex.pause(ex.ttft_ms)
        payload = message(
            id=ex.completion_id,
            model=ex.spec.model,
            content=answer.content(),
            stop_reason=answer.stop_reason,
            usage=answer.usage,
        )
        return await send_body(ex, orjson.dumps(payload), fault=None if fault == "no_done" else fault)
    start_usage = {**answer.usage, "output_tokens": 1}
    start_usage.pop("output_tokens_details", None)
    head = [
        event(
            {
                "type": "message_start",
                "message": message(
                    id=ex.completion_id, model=ex.spec.model, content=[], stop_reason=None, usage=start_usage
                ),
            }
        )
    ]
    body = _thinking_frames(answer) + _answer_frames(answer, index=1 if answer.thinking else 0)
    final_usage = {"output_tokens": answer.usage["output_tokens"]}
    tail = [
        event({"type": "content_block_stop", "index": 1 if answer.thinking else 0}),
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": answer.stop_reason, "stop_sequence": None},
                "usage": final_usage,
            }
        ),
    ]
    if fault != "no_done":
        tail.append(event({"type": "message_stop"}))
    return await send_frames(
        ex, head, body, tail, fault=fault, after=after, early_headers=early_headers, malformed=MALFORMED_FRAME
    )


def _thinking_frames(answer: AnthropicAnswer) -> list[tuple[bytes, bool]]:
    if not answer.thinking:
        return []
    block = {"type": "thinking", "thinking": "", "signature": ""}
    frames = [event({"type": "content_block_start", "index": 0, "content_block": block})]
    frames += [_delta(0, {"type": "thinking_delta", "thinking": piece}) for piece in answer.thinking]
    frames.append(_delta(0, {"type": "signature_delta", "signature": answer.signature}))
    frames.append(event({"type": "content_block_stop", "index": 0}))
    return [(frame, False) for frame in frames]


def _answer_frames(answer: AnthropicAnswer, *, index: int) -> list[tuple[bytes, bool]]:
    start = event({"type": "content_block_start", "index": index, "content_block": answer.first_block()})
    frames = [(start, False), (event({"type": "ping"}), False)]
    return frames + [(_delta(index, answer.delta(piece)), True) for piece in answer.pieces]


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event({"type": "content_block_delta", "index": index, "delta": delta})
