"""The prompt store's protocol: database versions, labels moved by compare-and-set, every move kept.

Engines: ``keel.stores.sqlite_prompts`` (embedded) and ``keel.stores.postgres_prompts`` (replicas),
opened by ``open_prompt_store`` from the ``database:`` URL. Every change bumps one revision number in
the same transaction, so a process that polls it (``PromptRegistry``) reads the whole state again
only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .version import PromptVersion

__all__ = ["LabelMove", "PromptSnapshot", "PromptStore", "open_prompt_store"]


@dataclass(frozen=True, slots=True)
class LabelMove:
    """One move of a label: from one version (None: unset) to another (None: removed), by whom, when."""

    name: str
    label: str
    from_version: int | None
    to_version: int | None
    moved_by: str
    moved_at: float
    reason: str = "move"

    def public(self) -> dict[str, Any]:
        return {
            "prompt": self.name,
            "label": self.label,
            "from": self.from_version,
            "to": self.to_version,
            "by": self.moved_by,
            "at": self.moved_at,
            "reason": self.reason,
        }


@dataclass(slots=True)
class PromptSnapshot:
    """The store's whole state at one revision: versions, labels set, and labels ever set."""

    revision: int = 0
    versions: dict[str, dict[int, PromptVersion]] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    known_labels: set[tuple[str, str]] = field(default_factory=set)
    """(prompt, label) pairs with a row, removed ones too: a YAML file's wanted label is set only
    when its pair has never existed."""


class PromptStore(Protocol):
    async def revision(self) -> int:
        """The number every change increments (one cheap read)."""
        ...

    async def snapshot(self) -> PromptSnapshot: ...

    async def add_version(self, version: PromptVersion, *, by: str) -> None:
        """Store a new version; ``PromptError`` when the prompt already has that number."""
        ...

    async def move_label(
        self, name: str, label: str, to: int | None, *, expected: int | None, by: str, reason: str = "move"
    ) -> LabelMove:
        """Point ``label`` at ``to`` (None removes it) if it still points at ``expected``; record the
        move. Raises ``PromptLabelConflictError`` when it does not."""
        ...

    async def history(self, name: str, label: str | None = None, limit: int = 100) -> list[LabelMove]:
        """The prompt's label moves, newest first."""
        ...

    async def close(self) -> None: ...


def open_prompt_store(database_url: str) -> PromptStore:
    """The prompt store for ``database_url``; nothing is opened until first use."""
    if database_url.startswith("sqlite:///"):
        from ..stores.sqlite_ledger import sqlite_path
        from ..stores.sqlite_prompts import SQLitePromptStore

        return SQLitePromptStore(sqlite_path(database_url))
    if database_url.startswith(("postgresql://", "postgres://")):
        from ..stores.state import _postgres

        store: PromptStore = _postgres("postgres_prompts").PostgresPromptStore(database_url)
        return store
    raise ValueError(f"database: {database_url.split('://')[0]}:// has no prompt store")


def version_of(name: str, number: int, spec: str | bytes | dict[str, Any]) -> PromptVersion:
    """A stored version back as a ``PromptVersion`` (its spec is JSON)."""
    import orjson

    data = spec if isinstance(spec, dict) else orjson.loads(spec)
    return PromptVersion.model_validate({**data, "name": name, "version": number, "source": "database"})
