"""What the two structured-output benchmarks share: the local model spoken to directly (the schema as
sent, one request) and through Keel's library (bounded grammar, JSON-mode fallback, re-asks), with
the calls and tokens each answer took."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from keel import Gateway
from keel.errors import KeelError, OutputValidationError
from keel.gateway import _request
from keel.providers._llama_runtime import LlamaRuntime
from keel.structured import OutputSpec
from keel.structured.check import schema_problems

__all__ = ["Answer", "direct", "gateway", "through_keel", "valid"]


@dataclass
class Answer:
    """One answer: its JSON value (None when there is none), whether it validates, what it took."""

    value: Any
    valid: bool
    calls: int
    tokens: int
    seconds: float
    error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def valid(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` validates against ``schema`` (``jsonschema``, as the validate policy checks)."""
    try:
        return not schema_problems(value, schema)
    except Exception:  # a schema Python's jsonschema cannot use counts against the answer
        return False


def gateway(tmp: Path, *, context_window: int | None = None) -> Gateway:
    """A gateway whose one model, ``local``, is the local model; a minute per attempt."""
    provider: dict[str, Any] = {"kind": "local"}
    if context_window:
        provider["context_window"] = context_window
    return Gateway.from_config(
        {
            "providers": {"local": provider},
            "models": {"local": ["local"]},
            "database": f"sqlite:///{tmp}/keel.db",
            "timeouts": {"connect": 5, "first_token": 60, "idle": 30, "attempt": 120, "total": 400},
        }
    )


async def through_keel(
    gw: Gateway, schema: dict[str, Any], messages: list[dict[str, str]], *, max_reasks: int, **params: Any
) -> Answer:
    """``gw.structured`` for ``schema``, keeping the call to count its attempts and tokens."""
    spec = OutputSpec.of(schema, max_reasks=max_reasks)
    params.setdefault("response_format", spec.response_format())
    call = gw.new_call(_request("local", messages, params), output=spec)
    started = time.perf_counter()
    value, error, verdict = None, None, None
    try:
        await gw.run(call)
        verdict = call.options.get("structured")
        value = verdict.result if verdict is not None else None
    except OutputValidationError as failure:
        error = "; ".join(failure.problems[:2])[:200]
    except KeelError as failure:
        error = f"{type(failure).__name__}: {failure}"[:200]
    except Exception as failure:  # e.g. jsonschema unable to resolve the schema's own $ref
        error = f"{type(failure).__name__}: {failure}"[:200]
    seconds = time.perf_counter() - started
    tokens = sum((a.usage.input_tokens + a.usage.output_tokens) for a in call.attempts if a.usage)
    ok = error is None and verdict is not None and valid(value, schema)
    return Answer(value, ok, len(call.attempts), tokens, seconds, error)


class direct:
    """The local model with nothing of Keel between: one request, the schema as sent."""

    def __init__(self, n_ctx: int) -> None:
        self.runtime = LlamaRuntime(n_ctx=n_ctx)
        self.session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def __aenter__(self) -> direct:
        self.base_url, key = await self.runtime.ensure_started()
        self.session = aiohttp.ClientSession(headers={"authorization": f"Bearer {key}"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()
        self.runtime.close()

    async def ask(
        self, schema: dict[str, Any] | None, messages: list[dict[str, str]], **params: Any
    ) -> Answer:
        """One request; ``schema`` None asks for JSON mode (``json_object``)."""
        assert self.session is not None
        body: dict[str, Any] = {"messages": messages, **params}
        body["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
            if schema is not None
            else {"type": "json_object"}
        )
        started = time.perf_counter()
        async with self.session.post(f"{self.base_url}/chat/completions", json=body) as response:
            payload = orjson.loads(await response.read())
        seconds = time.perf_counter() - started
        if response.status != 200:
            message = str((payload.get("error") or {}).get("message", ""))[:200]
            return Answer(None, False, 1, 0, seconds, f"HTTP {response.status}: {message}")
        choice = payload["choices"][0]
        usage = payload.get("usage") or {}
        tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        try:
            value = orjson.loads(choice["message"]["content"])
        except orjson.JSONDecodeError:
            error = "cut at max_tokens" if choice.get("finish_reason") == "length" else "not JSON"
            return Answer(None, False, 1, tokens, seconds, error)
        return Answer(value, True, 1, tokens, seconds, notes={"finish": choice.get("finish_reason")})
