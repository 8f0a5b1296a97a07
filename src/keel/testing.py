"""Test helpers for users of Keel: the scripted fake provider to point a gateway or an SDK at."""

from .mock import BEHAVIOURS, MockServer, model_name

__all__ = ["BEHAVIOURS", "MockServer", "model_name"]
