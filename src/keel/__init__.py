"""Keel: a reliable LLM gateway — ``from keel import Gateway``."""

from .config import Config, load_config
from .errors import (
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    ConnectError,
    ContentPolicyError,
    ContextLengthExceededError,
    DeadlineExceededError,
    InvalidRequestError,
    KeelError,
    MalformedResponseError,
    ModelNotFoundError,
    NoRouteAvailableError,
    RateLimitError,
    RateLimitExceededError,
    RequestError,
    RouteUnavailableError,
    ServerError,
    StreamInterruptedError,
    ToolsUnsupportedError,
    UpstreamError,
    UpstreamTimeoutError,
)
from .gateway import Gateway, GatewayStream
from .reply import ChunkStream, StreamEnd
from .types import Attempt, ChatRequest, ChatResponse, Chunk, Message, Usage

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "AuthenticationError",
    "BudgetExceededError",
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
    "Gateway",
    "GatewayStream",
    "InvalidRequestError",
    "KeelError",
    "MalformedResponseError",
    "Message",
    "ModelNotFoundError",
    "NoRouteAvailableError",
    "RateLimitError",
    "RateLimitExceededError",
    "RequestError",
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
