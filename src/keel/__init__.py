"""Keel: a reliable LLM gateway — ``from keel import Gateway``.

The errors are imported here; the rest (the config schema, the gateway and its stack, the types) on
first access, so ``keel --help`` and the other commands do not load the server's stack.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthenticationError,
    BudgetExceededError,
    BudgetStateUnavailableError,
    CircuitOpenError,
    ConfigError,
    ConnectError,
    ContentPolicyError,
    ContextLengthExceededError,
    DeadlineExceededError,
    FeatureDisabledError,
    FlagConflictError,
    FlagError,
    FlagNotFoundError,
    FlagStoreUnavailableError,
    InvalidRequestError,
    KeelError,
    KeyStoreUnavailableError,
    LedgerUnavailableError,
    MalformedResponseError,
    ModelNotFoundError,
    NoRouteAvailableError,
    OutputGuardError,
    OutputRefusedError,
    OutputValidationError,
    PiiBlockedError,
    PromptError,
    PromptInjectionError,
    PromptLabelConflictError,
    PromptNotFoundError,
    PromptOverrideError,
    PromptStoreUnavailableError,
    PromptVariableError,
    RateLimitError,
    RateLimitExceededError,
    RequestError,
    RequestOverBudgetError,
    RouteUnavailableError,
    ServerError,
    StreamInterruptedError,
    ToolsUnsupportedError,
    UpstreamError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from .config import Config, load_config
    from .gateway import Gateway, GatewayStream
    from .reply import ChunkStream, StreamEnd
    from .structured import OutputSpec
    from .types import Attempt, ChatRequest, ChatResponse, Chunk, Message, Usage

__version__ = "0.1.0"

_LAZY = {
    "Config": ".config",
    "load_config": ".config",
    "Gateway": ".gateway",
    "GatewayStream": ".gateway",
    "ChunkStream": ".reply",
    "StreamEnd": ".reply",
    "Attempt": ".types",
    "ChatRequest": ".types",
    "ChatResponse": ".types",
    "Chunk": ".types",
    "Message": ".types",
    "Usage": ".types",
    "OutputSpec": ".structured",
}


def __getattr__(name: str) -> Any:
    """The public names that are not errors, imported on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keel' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Attempt",
    "AuthenticationError",
    "BudgetExceededError",
    "BudgetStateUnavailableError",
    "ChatRequest",
    "ChatResponse",
    "Chunk",
    "ChunkStream",
    "CircuitOpenError",
    "Config",
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
    "Gateway",
    "GatewayStream",
    "InvalidRequestError",
    "KeelError",
    "KeyStoreUnavailableError",
    "LedgerUnavailableError",
    "MalformedResponseError",
    "Message",
    "ModelNotFoundError",
    "NoRouteAvailableError",
    "OutputGuardError",
    "OutputRefusedError",
    "OutputSpec",
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
    "StreamEnd",
    "StreamInterruptedError",
    "ToolsUnsupportedError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "Usage",
    "load_config",
]
