"""The fault matrix through ``keel serve`` with the openai SDK as client, streaming and not.

Each case asserts what the client got — the whole answer, or a clean error of the right class,
never a hang or a cut answer that passes for complete — and what the upstream saw.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, user

# (name, cascade of mock behaviours, overrides, streaming?, expected: "answer" or an SDK error class,
#  attempts the mock must have seen per behaviour in the cascade)
CASES: list[tuple[str, list[str], dict[str, Any], bool | None, Any, list[int]]] = [
    ("healthy", ["ok:tokens=5"], {}, None, "answer", [1]),
    ("429 short Retry-After is waited for", ["rate-limit:retry_after=0.2,times=1"], {}, None, "answer", [2]),
    ("429 long Retry-After falls back", ["rate-limit:retry_after=30", "ok"], {}, None, "answer", [1, 1]),
    ("500 once is retried", ["error-500:times=1"], {}, None, "answer", [2]),
    (
        "503 persistent falls back",
        ["error-503", "ok"],
        {"retry": {"max_attempts": 2}},
        None,
        "answer",
        [2, 1],
    ),
    ("reset before headers", ["reset", "ok"], {"retry": {"max_attempts": 2}}, None, "answer", [2, 1]),
    (
        "no response is not retried",
        ["hang", "ok"],
        {"timeouts": {"attempt": 0.4, "first_token": 0.3}},
        None,
        "answer",
        [1, 1],
    ),
    (
        "slow first token falls back invisibly",
        ["slow-first-token:ttft_ms=3000", "ok"],
        {"timeouts": {"first_token": 0.3}},
        True,
        "answer",
        [1, 1],
    ),
    ("cut body is retried", ["cut:after=3", "ok"], {"retry": {"max_attempts": 2}}, False, "answer", [2, 1]),
    ("cut stream after commit", ["cut:after=3,tokens=10", "ok"], {}, True, openai.APIError, [1, 0]),
    (
        "stall after commit",
        ["stall:after=2,tokens=10"],
        {"timeouts": {"idle": 0.3}},
        True,
        openai.APIError,
        [1],
    ),
    (
        "stall before commit falls back",
        ["stall:after=0", "ok"],
        {"timeouts": {"first_token": 0.3, "attempt": 0.6}},
        None,
        "answer",
        [1, 1],
    ),
    ("malformed chunk after commit", ["malformed-chunk:after=2"], {}, True, openai.APIError, [1]),
    (
        "malformed before commit",
        ["malformed-chunk:after=0", "ok"],
        {"retry": {"max_attempts": 2}},
        True,
        "answer",
        [2, 1],
    ),
    ("malformed body", ["malformed-chunk", "ok"], {"retry": {"max_attempts": 2}}, False, "answer", [2, 1]),
    ("finish and usage, no [DONE]", ["no-done:tokens=4", "ok"], {}, True, "answer", [1, 0]),
    ("finish, no usage, no [DONE]", ["no-done:tokens=4,usage=0", "ok"], {}, True, "answer", [1, 0]),
    ("cut before the finish", ["cut:after=4,tokens=4", "ok"], {}, True, openai.APIError, [1, 0]),
    ("context length", ["context-length", "ok"], {}, None, openai.BadRequestError, [1, 0]),
    ("content policy", ["content-policy", "ok"], {}, None, openai.BadRequestError, [1, 0]),
    ("plain 400 is never retried", ["not-found", "ok"], {}, None, openai.NotFoundError, [1, 0]),
    ("auth error moves on", ["auth-error", "ok"], {}, None, "answer", [1, 1]),
    (
        "deadline",
        ["hang:x=a", "hang:x=b"],
        {"timeouts": {"attempt": 5, "total": 0.5}},
        None,
        openai.InternalServerError,
        [1, 0],
    ),
]


def _cases() -> list[Any]:
    out = []
    for name, cascade, overrides, stream, expected, seen in CASES:
        for mode in [False, True] if stream is None else [stream]:
            label = f"{name} ({'stream' if mode else 'chat'})"
            out.append(pytest.param(cascade, overrides, mode, expected, seen, id=label))
    return out


def ask(sdk: openai.OpenAI, stream: bool) -> str:
    """The whole answer's text, by either API."""
    if not stream:
        return sdk.chat.completions.create(model="m", messages=user()).choices[0].message.content or ""
    chunks = list(sdk.chat.completions.create(model="m", messages=user(), stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"  # a complete stream ends with its finish
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize(("cascade", "overrides", "stream", "expected", "seen"), _cases())
def test_fault(
    keel_for: KeelFactory, upstream: MockServer, uid, cascade, overrides, stream, expected, seen
) -> None:
    """The client gets the whole answer or a clean error; the upstream saw exactly Keel's attempts."""
    names = [uid(behaviour) for behaviour in cascade]
    running = keel_for({"m": [f"mock/{name}" for name in names]}, **overrides)
    with openai.OpenAI(base_url=running.v1, api_key="any", timeout=10) as sdk:
        if expected == "answer":
            assert ask(sdk, stream).startswith("token0")
        else:
            with pytest.raises(expected):
                ask(sdk, stream)
    assert [len(upstream.attempts(model=name)) for name in names] == seen
