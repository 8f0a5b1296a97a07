"""What a new ``keel.yaml`` changes, by key, and which of those changes only a restart can apply.

Keys are dotted paths into the config (``models.smart``, ``providers.openai.api_key``,
``server.port``); a list (a cascade's tiers, ``budgets``) is one key. Only names are returned, never
values, so a changed API key is reported as ``providers.openai.api_key`` and nothing more.
"""

from __future__ import annotations

from typing import Any

from .config import Config
from .errors import ConfigError

__all__ = ["RESTART_KEYS", "RestartNeededError", "changed_keys", "check_reloadable"]

RESTART_KEYS = ("server.host", "server.port", "server.workers", "state", "database")
"""Read once at start: the listening socket, the worker processes and the stores' connections."""


class RestartNeededError(ConfigError):
    """The new config changes a key that only a restart applies; nothing was reloaded."""


def changed_keys(old: Config, new: Config) -> list[str]:
    """The dotted keys whose values differ between ``old`` and ``new``, sorted."""
    changes: list[str] = []
    _compare(old.model_dump(), new.model_dump(), "", changes)
    return sorted(changes)


def check_reloadable(changes: list[str], keys: tuple[str, ...] = RESTART_KEYS) -> None:
    """Raise ``RestartNeededError`` when ``changes`` touch a key in ``keys``.

    Raises:
        RestartNeededError: naming the keys and saying that a restart applies them.
    """
    fixed = [key for key in changes if any(key == k or key.startswith(f"{k}.") for k in keys)]
    if fixed:
        raise RestartNeededError(
            f"{', '.join(fixed)} changed: {'it is' if len(fixed) == 1 else 'they are'} read only at "
            f"start (as are {', '.join(k for k in keys if k not in fixed) or 'no other keys'}); restart "
            "keel serve to apply it; nothing was reloaded"
        )


def _compare(old: Any, new: Any, path: str, changes: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            where = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                changes.append(where)
            else:
                _compare(old[key], new[key], where, changes)
    elif old != new:
        changes.append(path)
