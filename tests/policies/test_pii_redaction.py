"""The restoration of a redacted call's stream: placeholders split anywhere across chunks — in text
and in tool-call arguments — come back whole as the caller's values, and nothing of a placeholder
is released before it is known to be one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from keel.policies.pii_redaction import _restored
from keel.reply import ChunkStream
from keel.safety.pseudonymize import Pseudonymizer
from keel.types import Chunk

ALICE = "alice.smith@example.com"


def chunk(delta: dict[str, Any], finish: str | None = None) -> Chunk:
    return Chunk(id="c", model="m", choices=[{"index": 0, "delta": delta, "finish_reason": finish}])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 100])
async def test_placeholders_split_across_chunks_are_restored(size: int) -> None:
    pseudonyms = Pseudonymizer()
    sent = pseudonyms.pseudonymize(f"mail {ALICE} now")
    placeholder = sent.split()[1]
    text = f"Dear {placeholder}, we wrote to {placeholder}."
    arguments = f'{{"to": "{placeholder}"}}'
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    argument_pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)]

    async def batches() -> AsyncIterator[list[Chunk]]:
        for piece in pieces:
            yield [chunk({"content": piece})]
        yield [
            chunk({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "send", "arguments": ""}}]})
        ]
        for piece in argument_pieces:
            yield [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})]
        yield [chunk({}, finish="stop")]

    restored = ChunkStream(batches=_restored(ChunkStream(batches=batches()), pseudonyms))
    out: list[Chunk] = [c async for c in restored]
    released = [c.text for c in out]
    assert "".join(released) == f"Dear {ALICE}, we wrote to {ALICE}."
    assert not any("redacted" in piece for piece in released)  # no part of a placeholder went out
    arguments_out = "".join(a for c in out for _, _, a in c.tool_argument_deltas())
    assert arguments_out == f'{{"to": "{ALICE}"}}'
    assert out[-1].finishes() == [(0, "stop")]
