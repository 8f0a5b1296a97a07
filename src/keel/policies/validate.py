"""``ValidatePolicy``: a call that asks for structured output gets an answer that parses and validates,
or a clear error — never an invalid answer presented as success.

A call carries what it must return as ``call.options["output"]`` (an ``OutputSpec``: the library's
``gw.structured``, or the proxy's enforced ``response_format``). Each answer is parsed (repaired
when it is near-JSON: a fence, prose around it, a trailing comma — ``structured.parse``) and checked
(``structured.check``). An answer that fails is asked again: the conversation goes on with the answer
as the assistant turn and Keel's list of problems as data (``structured.reask``), up to
``max_reasks`` times; each re-ask is one more call through the router, so the budget reserves it,
the deadline bounds it and the ledger records its attempts. A refusal is returned as it is, never
asked again. When the re-asks run out — or the call's cost cap cannot cover the next one — the call
fails with ``OutputValidationError`` naming the last problems.

A stream that must validate is read whole upstream and released once valid (as one batch): its time
to first token is the whole answer's time. A stream whose schema asks for the provider's strict mode
(``call.options["output_passthrough"]``: the route constrains its output) is passed through as it
comes and judged at its end; an invalid end fails the stream — an error event, no ``[DONE]``.
A *live* stream (``call.options["output_live"]``: the library's ``structured_stream``, which shows
partial objects as they arrive) passes the first answer through as it comes and judges it at its
end; an invalid one is then asked again without streaming,
and the valid answer is ``call.options["structured"]`` when the stream ends (or the stream fails
with ``OutputValidationError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._replay import replayed
from ..errors import BudgetExceededError, OutputValidationError
from ..reply import ChunkStream
from ..structured import (
    NotJSONError,
    OutputSpec,
    Problem,
    check,
    extract_json,
    reask_turns,
    schema_problems,
)
from ..telemetry.logs import get_logger

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..types import ChatResponse, Chunk
    from .base import Handler

__all__ = ["ValidatePolicy", "Verdict", "judge"]

log = get_logger("keel.validate")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one answer amounts to: ``valid`` (as produced), ``repaired``, ``refused`` or ``invalid``."""

    outcome: str
    text: str
    result: Any = None
    json: str | None = None  # the answer's JSON as the caller gets it (repaired answers are re-written)
    problems: tuple[Problem, ...] = ()
    truncated: bool = False


def judge(response: ChatResponse, spec: OutputSpec) -> Verdict:
    """Parse and check the first choice's answer."""
    if not response.choices:
        return Verdict("invalid", "", problems=(Problem("", "the answer has no choices"),))
    choice = response.choices[0]
    message = choice.message
    refusal = getattr(message, "refusal", None)
    if refusal or choice.finish_reason == "content_filter":
        return Verdict("refused", refusal or message.text())
    if spec.tools is not None:
        return _judge_tools(response, spec)
    text = message.text()
    if not text and message.tool_calls:  # the JSON came as a forced tool call's arguments
        text = message.tool_calls[0].function.arguments or ""
    truncated = choice.finish_reason == "length"
    try:
        extracted = extract_json(text)
    except NotJSONError as error:
        return Verdict("invalid", text, problems=(Problem("", str(error)),), truncated=truncated)
    if truncated:  # a repair can close brackets, not bring back what was cut
        problem = Problem("", "the answer was cut at the output limit before its JSON ended")
        return Verdict("invalid", text, problems=(problem,), truncated=True)
    checked = check(extracted.value, spec)
    if not checked.ok:
        return Verdict("invalid", text, problems=checked.problems)
    import orjson

    canonical = orjson.dumps(extracted.value).decode() if extracted.repaired else text
    return Verdict("repaired" if extracted.repaired else "valid", text, checked.result, canonical)


def _judge_tools(response: ChatResponse, spec: OutputSpec) -> Verdict:
    """Check each call of a checked tool: its arguments parse (repaired if need be) and validate."""
    import orjson

    choice = response.choices[0]
    calls = choice.message.tool_calls or []
    text = orjson.dumps([call.function.model_dump(exclude_none=True) for call in calls]).decode()
    assert spec.tools is not None
    problems: list[Problem] = []
    repaired: dict[int, str] = {}
    for index, call in enumerate(calls):
        schema = spec.tools.get(call.function.name or "")
        if schema is None:
            continue
        where = f"/tool_calls/{index}/arguments"
        try:
            extracted = extract_json(call.function.arguments or "")
        except NotJSONError as error:
            problems.append(Problem(where, str(error)))
            continue
        problems += schema_problems(extracted.value, schema, where)
        if extracted.repaired:
            repaired[index] = orjson.dumps(extracted.value).decode()
    truncated = choice.finish_reason == "length"
    if truncated and calls:
        problems.append(Problem("", "the answer was cut at the output limit before its arguments ended"))
    if problems:
        return Verdict("invalid", text, problems=tuple(problems), truncated=truncated)
    if repaired:
        for index, arguments in repaired.items():
            calls[index].function.arguments = arguments
        response.native = None
    return Verdict("repaired" if repaired else "valid", text, calls)


class ValidatePolicy:
    """Enforces ``call.options["output"]`` on the answer; a no-op for calls without one.

    ``next_route_after``: once a route's answers have failed this many times in one call, the
    re-asks go to the cascade's other routes (0: never)."""

    def __init__(self, next_route_after: int = 2) -> None:
        self.next_route_after = next_route_after

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        spec: OutputSpec | None = call.options.get("output")
        if spec is None:
            return await call_next(call)
        if call.stream and (call.options.get("output_live") or call.options.get("output_passthrough")):
            first = await call_next(call)
            stream = first if isinstance(first, ChunkStream) else replayed(first)
            if call.options.get("output_passthrough"):
                return ChunkStream(batches=self._passed(call, spec, stream), model=call.request.model)
            return ChunkStream(batches=self._live(call, call_next, spec, stream), model=call.request.model)
        original = call.request
        try:
            return await self._validated(call, call_next, spec)
        finally:
            call.request = original

    async def _live(
        self, call: Call, call_next: Handler, spec: OutputSpec, stream: ChunkStream
    ) -> AsyncIterator[list[Chunk]]:
        """The first answer's batches as they come; then, if it is invalid, the re-asks."""
        try:
            while True:
                yield await stream.next_batch()
        except StopAsyncIteration:
            pass
        verdict = judge(stream.partial, spec)
        if verdict.outcome != "invalid":
            self._accept(call, verdict, 0, stream.partial)
            return
        original = call.request
        try:
            await self._validated(call, call_next, spec, after=verdict)
        finally:
            call.request = original

    async def _passed(self, call: Call, spec: OutputSpec, stream: ChunkStream) -> AsyncIterator[list[Chunk]]:
        """The answer's batches as they come, judged at its end: the client already has it, so one
        that needed repair or is invalid fails the stream (an error event, no ``[DONE]``)."""
        try:
            while True:
                yield await stream.next_batch()
        except StopAsyncIteration:
            pass
        verdict = judge(stream.partial, spec)
        if verdict.outcome in ("valid", "refused"):
            self._accept(call, verdict, 0, stream.partial)
            return
        call.options["validation"] = {"outcome": "failed", "reasks": 0}
        if verdict.outcome == "repaired":
            problem = Problem("", "the answer streamed was not JSON as sent (it needed repair)")
            verdict = Verdict("invalid", verdict.text, problems=(problem,))
        raise _failed(call, verdict, 1)

    async def _validated(
        self, call: Call, call_next: Handler, spec: OutputSpec, *, after: Verdict | None = None
    ) -> Reply:
        """Ask until an answer is valid; ``after``: the first answer, already judged invalid."""
        verdict = after
        for reask in range(1 if after is not None else 0, spec.max_reasks + 1):
            if verdict is not None:
                self._reasking(call, verdict, reask)
            if reask:
                call.options["reask"] = reask
                call.attempt_reason = "reask"
            try:
                reply = await call_next(call)
            except BudgetExceededError as error:
                if verdict is None:
                    raise
                raise _failed(call, verdict, reask, stopped_by=error) from error
            response = await reply.collect() if isinstance(reply, ChunkStream) else reply
            verdict = judge(response, spec)
            if verdict.outcome != "invalid":
                self._accept(call, verdict, reask, response)
                return replayed(response) if call.stream else response
        assert verdict is not None
        call.options["validation"] = {"outcome": "failed", "reasks": spec.max_reasks}
        raise _failed(call, verdict, spec.max_reasks + 1)

    @staticmethod
    def _accept(call: Call, verdict: Verdict, reasks: int, response: ChatResponse) -> None:
        call.options["validation"] = {"outcome": verdict.outcome, "reasks": reasks}
        call.options["structured"] = verdict
        if verdict.outcome == "repaired" and verdict.json is not None:  # tool mode rewrote its calls
            _rewrite(response, verdict.json)

    def _reasking(self, call: Call, verdict: Verdict, reask: int) -> None:
        """Log the failed answer and continue the conversation with it and its problems."""
        route = next((a.route for a in reversed(call.attempts) if a.outcome in ("ok", "streaming")), None)
        log.info(
            "answer failed validation",
            request_id=call.request_id,
            route=route,
            reask=reask,
            problems=[str(p) for p in verdict.problems[:3]],
        )
        if route is not None and self.next_route_after:
            failed = call.options.setdefault("invalid_answers", {})
            failed[route] = failed.get(route, 0) + 1
            if failed[route] >= self.next_route_after:
                call.options.setdefault("avoid_routes", set()).add(route)
        turns = reask_turns(verdict.text, verdict.problems, truncated=verdict.truncated)
        call.request = call.request.model_copy(update={"messages": [*call.request.messages, *turns]})


def _rewrite(response: ChatResponse, text: str) -> None:
    """Give the caller the repaired JSON instead of the near-JSON the model wrote."""
    message = response.choices[0].message
    if message.tool_calls and not message.text():
        message.tool_calls[0].function.arguments = text
    else:
        message.content = text
    response.native = None  # the provider's own bytes no longer say what the caller gets


def _failed(
    call: Call, verdict: Verdict, answers: int, *, stopped_by: BaseException | None = None
) -> OutputValidationError:
    costs = ", ".join(
        f"{attempt.route} ${attempt.cost}" if attempt.cost is not None else attempt.route
        for attempt in call.attempts
    )
    why = (
        f"the call's budget stopped the re-asks ({stopped_by})"
        if stopped_by is not None
        else f"after {answers} answer{'s' if answers != 1 else ''}"
    )
    problems = [str(problem) for problem in verdict.problems]
    message = (
        f"the answer did not match the schema asked for, {why}; {len(call.attempts)} attempt(s): {costs}; "
        f"last problems: {'; '.join(problems[:5])}"
    )
    error = OutputValidationError(message, problems=problems, answer=verdict.text)
    error.attempts = call.attempts
    return error
