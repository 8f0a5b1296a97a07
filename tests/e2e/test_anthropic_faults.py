"""The fault matrix in Anthropic's wire format (Claude routes on the mock's ``/v1/messages``), through
both endpoints — ``/v1/messages`` with the ``anthropic`` SDK and ``/v1/chat/completions`` with the
``openai`` SDK — streaming and not, SDK retries at their default.

Each case asserts what the client got — the whole answer, or a clean error of the right class,
never a hang or a cut answer that passes for complete — and what the upstream saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from keel.mock import MockServer

from .conftest import RunningKeel, mock_config, start_keel, user

ANSWER, CUT, BAD_REQUEST = "answer", "cut", "bad request"
ERRORS = {
    "anthropic": {CUT: anthropic.APIStatusError, BAD_REQUEST: anthropic.BadRequestError},
    "openai": {CUT: openai.APIError, BAD_REQUEST: openai.BadRequestError},
}
QUICK_RETRY = {"retry": {"max_attempts": 2}}
# (name, cascade of mock behaviours on Claude routes, overrides, streaming?, expected,
#  attempts the mock must have seen per behaviour in the cascade)
CASES: list[tuple[str, list[str], dict[str, Any], bool | None, str, list[int]]] = [
    ("429 short retry-after is waited for", ["rate-limit:retry_after=0.2,times=1"], {}, None, ANSWER, [2]),
    ("429 long retry-after falls back", ["rate-limit:retry_after=30", "ok"], {}, None, ANSWER, [1, 1]),
    ("529 persistent falls back", ["overloaded", "ok"], QUICK_RETRY, None, ANSWER, [2, 1]),
    ("500 once is retried", ["error-500:times=1"], {}, None, ANSWER, [2]),
    ("reset before headers", ["reset", "ok"], QUICK_RETRY, None, ANSWER, [2, 1]),
    (
        "no response is not retried",
        ["hang", "ok"],
        {"timeouts": {"attempt": 0.4, "first_token": 0.3}},
        None,
        ANSWER,
        [1, 1],
    ),
    (
        "slow first token falls back invisibly",
        ["slow-first-token:ttft_ms=3000", "ok"],
        {"timeouts": {"first_token": 0.3}},
        True,
        ANSWER,
        [1, 1],
    ),
    ("cut body is retried", ["cut:after=3", "ok"], QUICK_RETRY, False, ANSWER, [2, 1]),
    ("cut stream after commit", ["cut:after=3,tokens=10", "ok"], {}, True, CUT, [1, 0]),
    ("stall after commit", ["stall:after=2,tokens=10"], {"timeouts": {"idle": 0.3}}, True, CUT, [1]),
    (
        "stall before commit falls back",
        ["stall:after=0", "ok"],
        {"timeouts": {"first_token": 0.3, "attempt": 0.6}},
        None,
        ANSWER,
        [1, 1],
    ),
    ("malformed event after commit", ["malformed-chunk:after=2"], {}, True, CUT, [1]),
    ("malformed event before commit", ["malformed-chunk:after=0", "ok"], QUICK_RETRY, True, ANSWER, [2, 1]),
    ("malformed body", ["malformed-chunk", "ok"], QUICK_RETRY, False, ANSWER, [2, 1]),
    ("no message_stop", ["no-done:tokens=4"], {}, True, CUT, [1]),
    ("context length", ["context-length", "ok"], {}, None, BAD_REQUEST, [1, 0]),
    ("content policy", ["content-policy", "ok"], {}, None, BAD_REQUEST, [1, 0]),
]


RUN = uuid.uuid4().hex[:8]  # the mock's counters are per model name: fresh names for every run


def _cases() -> list[Any]:
    out = []
    for number, (name, cascade, overrides, stream, expected, seen) in enumerate(CASES):
        for endpoint in ("anthropic", "openai"):
            for mode in [False, True] if stream is None else [stream]:
                token = f"{RUN}-{number}-{endpoint}-{mode:d}"
                names = [f"{b}{',' if ':' in b else ':'}id={token}" for b in cascade]
                label = f"{name} ({endpoint}, {'stream' if mode else 'message'})"
                out.append(pytest.param(names, overrides, endpoint, mode, expected, seen, id=label))
    return out


CASE_PARAMS = _cases()


def _key(overrides: dict[str, Any]) -> bytes:
    return orjson.dumps(overrides, option=orjson.OPT_SORT_KEYS)


@pytest.fixture(scope="module")
def servers(upstream: MockServer) -> Iterator[dict[bytes, RunningKeel]]:
    """One server per set of overrides, started when first needed with the cascades of every case that
    uses it (model ``m:<first route>``); all stopped together at the end."""

    class Servers(dict[bytes, RunningKeel]):
        def __missing__(self, key: bytes) -> RunningKeel:
            overrides = orjson.loads(key)
            models = {
                f"m:{names[0]}": [f"claude/{name}" for name in names]
                for names, other, *_ in (param.values for param in CASE_PARAMS)
                if _key(other) == key
            }
            self[key] = start_keel(mock_config(upstream, models, **overrides))
            return self[key]

    running = Servers()
    yield running
    for server in running.values():
        server.server.should_exit = True
    for server in running.values():
        server.thread.join(15)


def ask(running: RunningKeel, endpoint: str, model: str, stream: bool) -> str:
    """The whole answer's text through one endpoint and its SDK; a stream must end complete."""
    if endpoint == "anthropic":
        with anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10) as claude:
            params: Any = {"model": model, "max_tokens": 100, "messages": user()}
            if not stream:
                return claude.messages.create(**params).content[0].text  # type: ignore[union-attr]
            with claude.messages.stream(**params) as events:
                message = events.get_final_message()
            assert message.stop_reason == "end_turn"
            return message.content[0].text  # type: ignore[union-attr]
    with openai.OpenAI(base_url=running.v1, api_key="any", timeout=10) as sdk:
        if not stream:
            return sdk.chat.completions.create(model=model, messages=user()).choices[0].message.content or ""
        chunks = list(sdk.chat.completions.create(model=model, messages=user(), stream=True))
        assert chunks[-1].choices[0].finish_reason == "stop"
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize(("names", "overrides", "endpoint", "stream", "expected", "seen"), CASE_PARAMS)
def test_fault(
    servers: dict[bytes, RunningKeel],
    upstream: MockServer,
    names: list[str],
    overrides: dict[str, Any],
    endpoint: str,
    stream: bool,
    expected: str,
    seen: list[int],
) -> None:
    """The client gets the whole answer or a clean error; the upstream saw exactly Keel's attempts."""
    running = servers[_key(overrides)]
    model = f"m:{names[0]}"
    if expected == ANSWER:
        assert ask(running, endpoint, model, stream).startswith("token0")
    else:
        with pytest.raises(ERRORS[endpoint][expected]):
            ask(running, endpoint, model, stream)
    assert [len(upstream.attempts(model=name)) for name in names] == seen
