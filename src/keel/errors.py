"""The error taxonomy: one class per row of DESIGN.md's table, the routing decision on each class.

The tree::

    KeelError
    ├── ConfigError                  the operator's config is wrong (raised at start)
    │   └── PricingError             no price for a route, or a usage that cannot be priced (keel.pricing)
    ├── RequestError                 the caller's request is wrong before any route is tried (400)
    │   ├── ModelNotFoundError       no model or route by that name (404)
    │   ├── ToolsUnsupportedError    a forced tool call, and no route of the cascade can call tools
    │   └── PromptError              a named prompt cannot be used as asked (keel.prompts)
    │       ├── PromptNotFoundError      no such prompt, version or label (404)
    │       ├── PromptVariableError      a variable missing, unknown or not text (400)
    │       ├── PromptOverrideError      a model or parameter the version does not let callers set (400)
    │       └── PromptLabelConflictError a label moved since it was read: compare-and-set lost (409)
    ├── FeatureDisabledError         the call's feature is off for this caller, no fallback (403)
    ├── FlagError                    a flag cannot be stored as asked (400; keel.flags)
    │   ├── FlagNotFoundError        no flag by that name (404)
    │   └── FlagConflictError        the flag changed since it was read: compare-and-set lost (409)
    ├── DeadlineExceededError        the call's total deadline ran out (504)
    ├── NoRouteAvailableError        every route was skipped (circuit open / cooling down) (503)
    ├── BudgetExceededError          a budget cannot cover the next attempt (429, with when it resets)
    │   └── RequestOverBudgetError   the call's worst case alone exceeds a per-request budget (400)
    ├── BudgetStateUnavailableError  the budgets' shared counters (Redis) are away: fail closed (503)
    ├── LedgerUnavailableError       strict durability: the ledger did not take the record in time (503)
    ├── KeyStoreUnavailableError     a virtual key cannot be checked: its database is away (503)
    ├── PromptStoreUnavailableError  prompts' database away longer than prompts.max_stale (503)
    ├── FlagStoreUnavailableError    flags' database away longer than flags.max_stale (503)
    ├── RateLimitExceededError       a Keel rate limit refused the call (429, with Retry-After)
    ├── StreamInterruptedError       a stream failed after its commit point; carries the partial output
    ├── OutputValidationError        the answer did not parse or validate within its re-asks (422)
    ├── OutputRefusedError           the model refused to give the structured answer (library; 422)
    └── UpstreamError                a route's provider failed; the flags below decide what happens next
        ├── ConnectError             connect refused, or reset before response headers
        ├── UpstreamTimeoutError     connect, first-token or idle timeout (a silent route)
        ├── RateLimitError           429; may carry ``retry_after``
        ├── ServerError              500, 502, 503, 504, 529
        ├── MalformedResponseError   a body or stream event that is not what the protocol promises
        ├── ContextLengthExceededError   400: the prompt does not fit this route's context window
        ├── ContentPolicyError       400: the provider's safety system refused
        ├── InvalidRequestError      other 400 / 404 / 422
        ├── AuthenticationError      401 / 403 from the provider (a misconfigured route)
        ├── RouteUnavailableError    the route cannot run here (e.g. the local model is not installed)
        └── CircuitOpenError         the route was skipped: circuit open, or cooling down after a 429

The router and the retry policy read the class flags (``retry_same_route``, ``try_next_route``,
``counts_for_breaker``) and never look at status codes themselves. A class whose ``code`` is Keel's
own (``keel_code``) reaches both APIs by that code: the OpenAI error's ``code``, the Anthropic
error's ``type`` and the ``x-keel-error-code`` header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .types import Attempt, ChatResponse

__all__ = [
    "AuthenticationError",
    "BudgetExceededError",
    "BudgetStateUnavailableError",
    "CircuitOpenError",
    "ConfigError",
    "ConnectError",
    "ContentPolicyError",
    "ContextLengthExceededError",
    "DeadlineExceededError",
    "FeatureDisabledError",
    "FlagConflictError",
    "FlagError",
    "FlagNotFoundError",
    "FlagStoreUnavailableError",
    "InvalidRequestError",
    "KeelError",
    "KeyStoreUnavailableError",
    "LedgerUnavailableError",
    "MalformedResponseError",
    "ModelNotFoundError",
    "NoRouteAvailableError",
    "OutputGuardError",
    "OutputRefusedError",
    "OutputValidationError",
    "PiiBlockedError",
    "PromptError",
    "PromptInjectionError",
    "PromptLabelConflictError",
    "PromptNotFoundError",
    "PromptOverrideError",
    "PromptStoreUnavailableError",
    "PromptVariableError",
    "RateLimitError",
    "RateLimitExceededError",
    "RequestError",
    "RequestOverBudgetError",
    "RouteUnavailableError",
    "ServerError",
    "StreamInterruptedError",
    "ToolsUnsupportedError",
    "UpstreamError",
    "UpstreamTimeoutError",
]


class KeelError(Exception):
    """Base of every error Keel raises to a caller."""

    status: ClassVar[int] = 500
    openai_type: ClassVar[str] = "api_error"
    keel_code: ClassVar[bool] = False  # ``code`` is Keel's own refusal, named as such in both APIs
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.attempts: list[Attempt] = []

    def __str__(self) -> str:
        return self.message


class ConfigError(KeelError):
    """The configuration is invalid; the message names the field and the fix."""


class RequestError(KeelError):
    """The caller's request is invalid before any route is tried."""

    status = 400
    openai_type = "invalid_request_error"


class ModelNotFoundError(RequestError):
    status = 404
    code = "model_not_found"


class ToolsUnsupportedError(RequestError):
    """The request forces a tool call and no route of its cascade has ``supports_tools``."""

    keel_code = True
    code = "tools_unsupported"


class PromptError(RequestError):
    """A named prompt cannot be used as the request asks; ``param`` names the field at fault."""

    keel_code = True
    code = "prompt_invalid"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PromptNotFoundError(PromptError):
    """No prompt by that name, or it has no such version or label (a removed label is not served)."""

    status = 404
    code = "prompt_not_found"


class PromptVariableError(PromptError):
    """A template variable is missing, unknown to the version, or not text; the message names it."""

    code = "prompt_variable_invalid"


class PromptOverrideError(PromptError):
    """The request sets a model or parameter the prompt version does not list in ``overridable``."""

    code = "prompt_override_refused"


class PromptLabelConflictError(PromptError):
    """A label move lost its compare-and-set: the label moved since the caller read it."""

    status = 409
    code = "prompt_label_conflict"


class FeatureDisabledError(KeelError):
    """The call names a feature whose flag is off for this caller (killed, turned off by its budget,
    or the caller is outside the rollout) and the flag has no fallback variant.

    403, not 409: the operator has decided this caller may not use the feature now — asking again
    changes nothing until the flag does (both SDKs retry 409, and neither retries 403); not a 5xx
    (nothing failed) and not a budget error (the flag decides, whatever turned it off).
    """

    status = 403
    openai_type = "permission_denied"
    keel_code = True
    code = "feature_disabled"

    def __init__(self, message: str, *, feature: str, reason: str) -> None:
        super().__init__(message)
        self.feature = feature
        self.reason = reason


class FlagError(KeelError):
    """A flag cannot be stored or changed as asked; ``param`` names the field at fault."""

    status = 400
    openai_type = "invalid_request_error"
    keel_code = True
    code = "flag_invalid"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class FlagNotFoundError(FlagError):
    status = 404
    code = "flag_not_found"


class FlagConflictError(FlagError):
    """The flag changed since it was read (compare-and-set lost); read it again and retry."""

    status = 409
    code = "flag_conflict"


class FlagStoreUnavailableError(KeelError):
    """The flags' database has not answered for longer than ``flags.max_stale``."""

    status = 503
    openai_type = "service_unavailable"
    keel_code = True
    code = "flag_store_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceededError(KeelError):
    """The call's total deadline ran out before any route answered."""

    status = 504
    openai_type = "timeout"
    code = "deadline_exceeded"


class NoRouteAvailableError(KeelError):
    """Every route was skipped: circuits open or cooling down after rate limits."""

    status = 503
    openai_type = "service_unavailable"
    code = "no_route_available"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExceededError(KeelError):
    """A budget cannot cover the worst case of the next attempt; nothing more is spent."""

    status = 429
    openai_type = "budget_exceeded"
    keel_code = True
    code = "budget_exceeded"

    def __init__(
        self, message: str, *, budget: str, retry_after: float | None = None, feature: str | None = None
    ) -> None:
        super().__init__(message)
        self.budget = budget
        self.retry_after = retry_after
        self.feature = feature
        """A per-flag budget's flag (``scope: feature``): the flag turns itself off."""


class RequestOverBudgetError(BudgetExceededError):
    """The call's worst case alone exceeds a ``window: request`` budget: no retry can ever fit it,
    only a smaller call (a lower ``max_tokens``, a shorter prompt)."""

    status = 400
    openai_type = "invalid_request_error"
    keel_code = True
    code = "request_over_budget"


class BudgetStateUnavailableError(KeelError):
    """A budget applies to the call and its shared counters cannot be reached: rather than risk an
    overspend, the call is refused before any upstream call (``state_outage.budgets: fail_closed``)."""

    status = 503
    openai_type = "service_unavailable"
    keel_code = True
    code = "budget_state_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LedgerUnavailableError(KeelError):
    """``ledger.durability: strict`` and the ledger's store did not take the call's record in time:
    the caller is told so rather than given an answer whose record is not yet stored (it stays queued
    and is written when the store is back)."""

    status = 503
    openai_type = "service_unavailable"
    keel_code = True
    code = "ledger_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyStoreUnavailableError(KeelError):
    """A virtual key that this process has not verified recently enough cannot be checked: the key
    store's database is away. Not a 401 — the key may well be valid; ask again shortly."""

    status = 503
    openai_type = "service_unavailable"
    keel_code = True
    code = "key_store_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PromptStoreUnavailableError(KeelError):
    """The prompts' database has not answered for longer than ``prompts.max_stale``: the labels this
    process knows are too old to serve (a label removed meanwhile must not be)."""

    status = 503
    openai_type = "service_unavailable"
    keel_code = True
    code = "prompt_store_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitExceededError(KeelError):
    """A rate limit Keel enforces refused the call; ``retry_after`` says when it has room again."""

    status = 429
    openai_type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, limit: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after


class StreamInterruptedError(KeelError):
    """A stream failed after content reached the caller; ``partial`` holds what was delivered."""

    status = 502
    openai_type = "stream_interrupted"
    code = "stream_interrupted"

    def __init__(self, message: str, *, partial: ChatResponse, cause: UpstreamError | None = None) -> None:
        super().__init__(message)
        self.partial = partial
        self.cause = cause


class OutputValidationError(KeelError):
    """The answer did not parse or validate against the schema asked for, after every re-ask allowed
    (or the call's cost cap stopped them); ``problems`` are the last answer's, ``answer`` its text."""

    status = 422
    openai_type = "invalid_request_error"
    keel_code = True
    code = "output_validation_failed"

    def __init__(self, message: str, *, problems: list[str], answer: str | None = None) -> None:
        super().__init__(message)
        self.problems = problems
        self.answer = answer


class PromptInjectionError(KeelError):
    """A turn of the request reads as a prompt injection (``reasons``: the scanner's rules, never
    the text); nothing was sent upstream."""

    status = 400
    openai_type = "invalid_request_error"
    keel_code = True
    code = "prompt_injection_detected"

    def __init__(self, message: str, *, reasons: list[str], score: float) -> None:
        super().__init__(message)
        self.reasons = reasons
        self.score = score


class PiiBlockedError(KeelError):
    """The request carries personal data of a kind a guard refuses (``kinds`` names them, never the
    values); nothing was sent upstream."""

    status = 400
    openai_type = "invalid_request_error"
    keel_code = True
    code = "pii_blocked"

    def __init__(self, message: str, *, kinds: list[str]) -> None:
        super().__init__(message)
        self.kinds = kinds


class OutputGuardError(KeelError):
    """An output guard stopped the answer (``guard`` names it, ``kind`` says what it checks); on a
    stream, after the chunks before the one that broke it."""

    status = 422
    openai_type = "invalid_request_error"
    keel_code = True
    code = "output_guard_triggered"

    def __init__(self, message: str, *, guard: str, kind: str) -> None:
        super().__init__(message)
        self.guard = guard
        self.kind = kind


class OutputRefusedError(KeelError):
    """The model refused to answer in the structured form asked for; ``refusal`` is what it said."""

    status = 422
    openai_type = "invalid_request_error"
    keel_code = True
    code = "output_refused"

    def __init__(self, message: str, *, refusal: str) -> None:
        super().__init__(message)
        self.refusal = refusal


class UpstreamError(KeelError):
    """A provider failed; the class flags carry DESIGN.md's decision for that outcome."""

    retry_same_route: ClassVar[bool] = False
    try_next_route: ClassVar[bool] = True
    counts_for_breaker: ClassVar[bool] = True
    outcome: ClassVar[str] = "error"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        route: str | None = None,
        upstream_status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        upstream_request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, code=code)
        self.route = route
        self.upstream_status = upstream_status
        self.param = param
        self.retry_after = retry_after
        self.upstream_request_id = upstream_request_id
        self.body = body

    def describe(self) -> str:
        """A short reason for attempt records: ``'503 Service Unavailable'``, ``'timeout (idle)'``."""
        if self.upstream_status:
            return f"{self.upstream_status} {self.message}"
        return f"{self.outcome}: {self.message}"


class ConnectError(UpstreamError):
    retry_same_route = True
    outcome = "connect_error"


class UpstreamTimeoutError(UpstreamError):
    """A connect, first-token or idle timeout: a silent route is not retried, the next route is."""

    status = 504
    openai_type = "timeout"
    outcome = "timeout"

    def __init__(self, message: str, *, phase: str = "total", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.phase = phase


class RateLimitError(UpstreamError):
    """429. Retried after Retry-After when it is short; a cooldown, never a breaker failure."""

    status = 429
    openai_type = "rate_limit_exceeded"
    retry_same_route = True
    counts_for_breaker = False
    outcome = "rate_limited"


class ServerError(UpstreamError):
    retry_same_route = True
    outcome = "server_error"


class MalformedResponseError(UpstreamError):
    retry_same_route = True
    outcome = "malformed"


class ContextLengthExceededError(UpstreamError):
    """Only a route with a larger context window may be tried next."""

    status = 400
    openai_type = "invalid_request_error"
    code = "context_length_exceeded"
    counts_for_breaker = False
    outcome = "context_length_exceeded"


class ContentPolicyError(UpstreamError):
    status = 400
    openai_type = "invalid_request_error"
    code = "content_policy_violation"
    try_next_route = False
    counts_for_breaker = False
    outcome = "content_policy"


class InvalidRequestError(UpstreamError):
    status = 400
    openai_type = "invalid_request_error"
    try_next_route = False
    counts_for_breaker = False
    outcome = "invalid_request"


class AuthenticationError(UpstreamError):
    """The provider refused the route's credentials: the route is misconfigured, the next may work."""

    status = 502
    openai_type = "upstream_authentication_error"
    outcome = "auth_error"


class CircuitOpenError(UpstreamError):
    """The route was not tried: its circuit is open or it is cooling down; ``retry_after`` says until when."""

    status = 503
    openai_type = "service_unavailable"
    counts_for_breaker = False
    outcome = "circuit_open"


class RouteUnavailableError(UpstreamError):
    """The route cannot run in this installation; the message says what to install or set."""

    status = 503
    openai_type = "service_unavailable"
    outcome = "unavailable"
