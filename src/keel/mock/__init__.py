"""``keel mock``: a fault-injecting fake provider (OpenAI Chat Completions and Anthropic Messages)."""

from .server import MockServer, run
from .spec import BEHAVIOURS, PARAMS, model_name, parse_model
from .timings import FAST, REALISTIC, Timings

__all__ = [
    "BEHAVIOURS",
    "FAST",
    "PARAMS",
    "REALISTIC",
    "MockServer",
    "Timings",
    "model_name",
    "parse_model",
    "run",
]
