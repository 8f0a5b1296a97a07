"""State and records behind small protocols (``base``), one module per engine, chosen by URL (``state``)."""

from .state import open_key_store

__all__ = ["open_key_store"]
