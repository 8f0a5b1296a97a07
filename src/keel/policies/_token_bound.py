"""The most tokens one attempt can use, and the tokens an ended attempt used: a token budget's units.

Tokens are input (cached input and cache writes included) plus output (reasoning included), as the
provider reports them; ``Usage.input_tokens`` and ``output_tokens`` already hold those sums.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._prices.bound import input_token_bound
from ..errors import RequestError

if TYPE_CHECKING:
    from ..route import Route
    from ..types import Attempt, ChatRequest

__all__ = ["InputBound", "attempt_tokens", "route_token_bound", "utf8_input_bound"]

InputBound = Callable[["Route", "ChatRequest"], int]
"""An upper bound on the input tokens of ``request`` on ``route`` (``Pricer.input_bound``)."""


def utf8_input_bound(route: Route, request: ChatRequest) -> int:
    """The tokenizer-free bound: the UTF-8 length of what the model reads, plus framing."""
    return input_token_bound(request)


def route_token_bound(route: Route, request: ChatRequest, input_bound: InputBound = utf8_input_bound) -> int:
    """Input bound plus output bound for one attempt of ``request`` on ``route``.

    Output is bounded by the request's limit, else the route's ``max_output_tokens``; with neither,
    the context window bounds input and output together. With none of them it is refused as the
    dollar reservation refuses it (a 400 saying to send ``max_tokens``).
    """
    bound = input_bound(route, request)
    limit = request.output_limit() or route.capabilities.max_output_tokens
    if limit is not None:
        return bound + limit
    window = route.capabilities.context_window
    if window is None:
        raise RequestError(
            f"{route.name}: the request sets no max_tokens and the route no max_output_tokens, so the "
            "tokens it may use have no bound and a token budget cannot cover it; send max_tokens, or "
            "set max_output_tokens on the deployment in keel.yaml"
        )
    return window


def attempt_tokens(
    route: Route, request: ChatRequest, attempt: Attempt, input_bound: InputBound = utf8_input_bound
) -> int:
    """What an ended attempt used: its reported usage, or for a stream cut before the provider said,
    the input bound and one token per delivered byte (as its cost is bounded); 0 for none."""
    usage = attempt.usage
    if usage is not None:
        return usage.input_tokens + usage.output_tokens
    if attempt.delivered_bytes:
        bound = attempt.input_bound if attempt.input_bound is not None else input_bound(route, request)
        return bound + attempt.delivered_bytes
    return 0
