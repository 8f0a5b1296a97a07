"""The flag store's protocol: flags in the database, every change recorded, one revision number.

Engines: ``keel.stores.sqlite_flags`` (embedded) and ``keel.stores.postgres_flags`` (replicas), opened
by ``open_flag_store`` from the ``database:`` URL. A change is a compare-and-set on the flag's own
revision, recorded (who, when, what: the flag before and after) and counted in the store's revision
in the same transaction — so a process polling that number (``FlagRegistry``) reads the flags again
only when something changed, and of two processes turning a flag off for its budget exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .flag import Flag

__all__ = ["FlagChange", "FlagSnapshot", "FlagStore", "open_flag_store"]


@dataclass(frozen=True, slots=True)
class FlagChange:
    """One change of a flag: what it was (None: new) and became (None: deleted), by whom, when."""

    name: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    by: str
    at: float

    def public(self) -> dict[str, Any]:
        return {
            "flag": self.name,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "by": self.by,
            "at": self.at,
        }


@dataclass(slots=True)
class FlagSnapshot:
    """The store's flags at one revision, each with its own revision (for compare-and-set)."""

    revision: int = 0
    flags: dict[str, Flag] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)


class FlagStore(Protocol):
    async def revision(self) -> int:
        """The number every change increments (one cheap read)."""
        ...

    async def snapshot(self) -> FlagSnapshot: ...

    async def put(self, flag: Flag | None, *, name: str, expected: int | None, by: str, action: str) -> int:
        """Store ``flag`` (None deletes ``name``) if the flag is still at revision ``expected``
        (None: it must not exist); record the change; its new revision.

        Raises:
            FlagConflictError: the flag changed meanwhile.
        """
        ...

    async def history(self, name: str, limit: int = 100) -> list[FlagChange]:
        """The flag's changes, newest first."""
        ...

    async def close(self) -> None: ...


def open_flag_store(database_url: str) -> FlagStore:
    """The flag store for ``database_url``; nothing is opened until first use."""
    if database_url.startswith("sqlite:///"):
        from ..stores.sqlite_flags import SQLiteFlagStore
        from ..stores.sqlite_ledger import sqlite_path

        return SQLiteFlagStore(sqlite_path(database_url))
    if database_url.startswith(("postgresql://", "postgres://")):
        from ..stores.state import _postgres

        store: FlagStore = _postgres("postgres_flags").PostgresFlagStore(database_url)
        return store
    raise ValueError(f"database: {database_url.split('://')[0]}:// has no flag store")


def spec_text(flag: Flag | None) -> str | None:
    """A flag as its stored JSON."""
    return None if flag is None else orjson.dumps(flag.model_dump(mode="json")).decode()


def flag_of(spec: str | bytes | dict[str, Any]) -> Flag:
    return Flag.model_validate(spec if isinstance(spec, dict) else orjson.loads(spec))


def change_of(row: Any) -> FlagChange:
    """A change from its row: name, action, before, after, by, at."""
    name, action, before, after, by, at = row
    return FlagChange(
        name,
        action,
        orjson.loads(before) if before else None,
        orjson.loads(after) if after else None,
        by,
        at,
    )
