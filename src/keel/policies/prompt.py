"""``PromptPolicy``: a call that names a prompt is sent as its version renders it.

It runs before the budget (DESIGN, wave 2), so the reservation is for what will really be sent.
The call's ``prompt_ref`` (a ``PromptRef``) picks the version from the registry's memory; the
rendered request replaces the caller's, and the call carries the prompt's name, version and label,
and where its untrusted variables sit (``prompt_untrusted``, for the input guards), into the ledger,
the headers and the library's result. A call without a prompt passes straight through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PromptOverrideError

if TYPE_CHECKING:
    from ..call import Call
    from ..prompts.registry import PromptRegistry
    from ..reply import Reply
    from .base import Handler

__all__ = ["PromptPolicy"]


class PromptPolicy:
    """Renders the call's prompt (``call.options["prompt_ref"]``) into its request."""

    def __init__(self, registry: PromptRegistry) -> None:
        self.registry = registry

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        ref = call.options.get("prompt_ref")
        if ref is None:
            return await call_next(call)
        from ..prompts.request import rendered_request

        # A split label is sticky per caller: the request's user, else its key (else this call alone).
        caller = call.request.user or call.options.get("key_id") or call.request_id
        selected = await self.registry.select(ref.name, ref.label, ref.version, caller)
        version = selected.version
        request, spans = rendered_request(version, ref, call.request)
        principal = call.options.get("principal")
        if principal is not None and not principal.allows_model(request.model):
            raise PromptOverrideError(
                f"prompt {version.ref} uses model {request.model!r}, which this key may not use",
                param="model",
            )
        call.request = request
        options = call.options
        options["prompt"], options["prompt_version"] = version.name, version.version
        options["prompt_label"] = selected.label
        if selected.variant is not None:
            options["variant"] = selected.variant
        if spans:
            options["prompt_untrusted"] = spans
        if version.response_schema is not None and "output" not in options:
            from ..structured import OutputSpec

            # The version declares its answer's shape: the answer is validated (and re-asked) as such.
            options["output"] = OutputSpec.of(version.response_schema)
        if selected.stale is not None:
            options["prompt_stale"] = selected.stale
        return await call_next(call)
