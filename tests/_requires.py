"""What the suite needs from the machine: a skip on a developer's machine, a failure under ``CI=true``.

A missing ``redis-server``, PostgreSQL, extra or spec file must never turn a CI run green by
skipping the tests that need it.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["in_ci", "missing", "require_binary", "require_module"]


def in_ci() -> bool:
    """Whether the suite runs under CI (``CI`` set to anything but empty, ``0`` or ``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str) -> NoReturn:
    """Skip the test (or, at import, the module) that needs ``what``; under CI fail, naming it."""
    if in_ci():
        pytest.fail(f"{what} is required under CI", pytrace=False)
    pytest.skip(f"{what} is not available", allow_module_level=True)


def require_module(name: str, why: str) -> ModuleType:
    """Import ``name`` for a test, or ``missing(...)`` saying ``why`` it is needed."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"{name} ({why}; {error})")


def require_binary(name: str) -> str:
    """The path of executable ``name`` on ``PATH``, or ``missing(...)``."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} (not on PATH)")
    return path
