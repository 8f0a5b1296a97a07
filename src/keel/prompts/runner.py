"""Run a prompt version's test cases through a gateway: each case rendered, sent through the whole
stack (any route — the mock or a real provider — and with ``model`` any other), and judged.

A case fails when an assertion does not hold or the call fails (a refusal, a render error naming a
variable, an upstream that stays down); each failure says why. The calls are recorded in the ledger
like any other, under the prompt's name and version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import KeelError
from ..reply import ChunkStream
from .cases import Observed
from .request import PromptRef, rendered_request, unrendered

if TYPE_CHECKING:
    from ..gateway import Gateway
    from .version import PromptVersion

__all__ = ["CaseResult", "run_cases"]


@dataclass(slots=True)
class CaseResult:
    """One case's outcome: passed or not, why not, and what the call cost and took."""

    name: str
    failures: list[str] = field(default_factory=list)
    text: str = ""
    cost_usd: Decimal = Decimal(0)
    latency_s: float = 0.0
    route: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "failures": self.failures,
            "cost_usd": str(self.cost_usd),
            "latency_s": round(self.latency_s, 3),
            "route": self.route,
            "answer": self.text,
        }


async def run_cases(
    gateway: Gateway, version: PromptVersion, *, model: str | None = None
) -> list[CaseResult]:
    """Every test case of ``version``, one after another; ``model`` replaces the version's."""
    if model:
        version = version.model_copy(update={"model": model})
    results = []
    for index, case in enumerate(version.tests):
        result = CaseResult(case.label(index))
        started = time.monotonic()
        try:
            ref = PromptRef(version.name, version=version.version, variables=case.variables)
            request, _ = rendered_request(version, ref, unrendered(version.model, [], {}))
            options: dict[str, Any] = {"prompt": version.name, "prompt_version": version.version}
            if version.response_schema is not None:
                from ..structured import OutputSpec

                options["output"] = OutputSpec.of(version.response_schema)
            call = gateway.new_call(request, **options)
            reply = await gateway.run(call)
            response = await reply.collect() if isinstance(reply, ChunkStream) else reply
        except KeelError as error:
            result.failures.append(f"{type(error).__name__}: {error}")
            result.latency_s = time.monotonic() - started
            results.append(result)
            continue
        result.latency_s = time.monotonic() - started
        result.text = response.text
        result.cost_usd = sum((a.cost or Decimal(0) for a in call.attempts), Decimal(0))
        answered = [a for a in call.attempts if a.outcome == "ok"]
        result.route = answered[-1].route if answered else None
        observed = Observed(result.text, result.cost_usd, result.latency_s)
        for assertion in case.assertions:
            failure = assertion.failure(observed, version.response_schema)
            if failure is not None:
                result.failures.append(failure)
        results.append(result)
    return results
