"""``keel serve``: the OpenAI-compatible HTTP server on the gateway's core."""

from .app import ApiRoute, KeelApp, create_app
from .run import serve

__all__ = ["ApiRoute", "KeelApp", "create_app", "serve"]
