"""``FlagPolicy``: a call that names its feature gets the variant its flag picks for this caller.

It runs after the output guards and before the prompt and the budget (DESIGN, wave 2): the variant
may choose the model, the prompt and parameters, so the prompt renders and the budget reserves what
will really be sent. The decision is read from the flags' memory (``FlagRegistry``, or an OpenFeature
provider); the call carries ``feature`` and ``feature_variant`` into the ledger and the headers. A
flag that is off for this caller serves its fallback variant, or refuses with ``feature_disabled``.

A per-flag budget (``scope: feature``) counts the calls its flag's variants serve, the fallback's
excepted. When it refuses a call, the flag turns itself off (once, across replicas) and the call is
served as the fallback instead — nothing was sent upstream yet, since budgets refuse before an
attempt. A call without a feature passes straight through: one dictionary lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BudgetExceededError, FeatureDisabledError, PromptOverrideError
from ..flags.flag import Context, Decision
from ..telemetry.metrics import flag_decisions

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from .base import Handler

__all__ = ["FlagPolicy", "FlagSource"]

_PROMPT_OPTIONS = ("prompt", "prompt_version", "prompt_label", "variant", "prompt_untrusted", "prompt_stale")


class FlagSource(Protocol):
    """Where flag decisions come from: ``FlagRegistry`` (the database) or ``OpenFeatureFlags``."""

    notify: Any

    async def decide(self, name: str, context: Context) -> Decision: ...

    async def exhaust(self, name: str, budget: str, retry_after: float | None) -> bool: ...

    async def aclose(self) -> None: ...


class FlagPolicy:
    """Applies the variant of the call's feature (``call.options["feature"]``) to the call."""

    def __init__(self, flags: FlagSource) -> None:
        self.flags = flags
        self._counted: dict[tuple[str, str, str], Any] = {}  # the metric's children, looked up once

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        feature = call.options.get("feature")
        if feature is None:
            return await call_next(call)
        context = _context(call)
        decision = await self.flags.decide(feature, context)
        request, ref, mark = call.request, call.options.get("prompt_ref"), len(call.listeners)
        self._apply(call, decision)
        try:
            return await call_next(call)
        except BudgetExceededError as error:
            if error.feature != feature or call.options.get("feature_budgeted") != feature:
                raise
            await self.flags.exhaust(feature, error.budget, error.retry_after)
            after = await self.flags.decide(feature, context)
            if after.reason not in ("fallback", "off"):
                raise
            # Nothing reached a provider (a budget refuses before the attempt): start again as the
            # fallback, without the refused variant's reservations, prompt or request.
            del call.listeners[mark:]
            call.request = request
            for name in _PROMPT_OPTIONS:
                call.options.pop(name, None)
            if ref is None:
                call.options.pop("prompt_ref", None)
            else:
                call.options["prompt_ref"] = ref
            self._apply(call, after)
            return await call_next(call)

    def _apply(self, call: Call, decision: Decision) -> None:
        labels = (decision.flag, decision.variant or "none", decision.reason)
        counter = self._counted.get(labels)
        if counter is None:  # flag, variant, reason: the metric's label order
            counter = self._counted[labels] = flag_decisions.labels(*labels)
        counter.inc()
        options = call.options
        if decision.variant is None:
            why = {"killed": "killed", "budget": "turned off by its budget"}.get(
                decision.off or "", "off for this caller"
            )
            raise FeatureDisabledError(
                f"feature {decision.flag!r} is {why} and its flag has no fallback variant",
                feature=decision.flag,
                reason=decision.off or "off",
            )
        options["feature_variant"] = decision.variant
        if decision.reason == "fallback":
            options.pop("feature_budgeted", None)
        else:
            options["feature_budgeted"] = decision.flag
        if decision.stale is not None:
            options["feature_stale"] = decision.stale
        settings = decision.settings
        if settings is None:
            return
        update: dict[str, Any] = dict(settings.params)
        if settings.model is not None:
            principal = options.get("principal")
            if principal is not None and not principal.allows_model(settings.model):
                raise PromptOverrideError(
                    f"feature {decision.flag!r} variant {decision.variant!r} uses model "
                    f"{settings.model!r}, which this key may not use",
                    param="model",
                )
            update["model"] = settings.model
        if update:
            if settings.params:  # the client's own body no longer says what is sent
                update["native"], update["native_format"] = None, None
            call.request = call.request.model_copy(update=update)
        if settings.prompt is not None:
            from ..prompts.request import PromptRef

            given = options.get("prompt_ref")
            variables = given.variables if given is not None else {}
            fixed = {"model": settings.model} if settings.model is not None else {}
            options["prompt_ref"] = PromptRef.parse(settings.prompt, variables=variables, given=fixed)


def _context(call: Call) -> Context:
    options = call.options
    return Context(
        key=options.get("key_id"),
        team=options.get("team"),
        user=options.get("feature_user") or call.request.user,
        attributes=options.get("feature_attributes") or {},
    )
