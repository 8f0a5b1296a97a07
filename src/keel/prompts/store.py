"""The prompt store's protocol: database versions, labels moved by compare-and-set, every move kept.

Engines: ``keel.stores.sqlite_prompts`` (embedded) and ``keel.stores.postgres_prompts`` (replicas),
opened by ``open_prompt_store`` from the ``database:`` URL. Every change bumps one revision number in
the same transaction, so a process that polls it (``PromptRegistry``) reads the whole state again
only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .split import Split
from .version import PromptVersion

__all__ = [
    "LabelMove",
    "PromptSnapshot",
    "PromptStore",
    "Target",
    "columns",
    "move_of",
    "open_prompt_store",
    "shown",
    "target_of",
]

Target = int | Split | None
"""Where a label points: one version, a split across versions, or nowhere (unset or removed)."""


def columns(target: Target) -> tuple[int | None, str | None]:
    """A target as the label row's ``version`` and ``split`` columns."""
    if isinstance(target, Split):
        return None, target.text()
    return target, None


def target_of(version: int | None, split: str | None) -> Target:
    return Split.from_text(split) if split is not None else version


def shown(target: Target) -> str:
    """A target in a sentence: ``version 3``, ``a split (3: 90%, 4: 10%)``, ``nothing``."""
    if isinstance(target, Split):
        return "a split (" + ", ".join(f"{v}: {w:g}%" for v, w in target.weights().items()) + ")"
    return "nothing" if target is None else f"version {target}"


def move_of(row: Any) -> LabelMove:
    """A move from its row: name, label, from_version, from_split, to_version, to_split, by, at, reason."""
    name, label, from_version, from_split, to_version, to_split, by, at, reason = row
    return LabelMove(
        name, label, target_of(from_version, from_split), target_of(to_version, to_split), by, at, reason
    )


def public(target: Target) -> int | dict[str, float] | None:
    return target.public() if isinstance(target, Split) else target


@dataclass(frozen=True, slots=True)
class LabelMove:
    """One move of a label: from one target (None: unset) to another (None: removed), by whom, when."""

    name: str
    label: str
    from_version: Target
    to_version: Target
    moved_by: str
    moved_at: float
    reason: str = "move"

    def public(self) -> dict[str, Any]:
        return {
            "prompt": self.name,
            "label": self.label,
            "from": public(self.from_version),
            "to": public(self.to_version),
            "by": self.moved_by,
            "at": self.moved_at,
            "reason": self.reason,
        }


@dataclass(slots=True)
class PromptSnapshot:
    """The store's whole state at one revision: versions, labels set, and labels ever set."""

    revision: int = 0
    versions: dict[str, dict[int, PromptVersion]] = field(default_factory=dict)
    labels: dict[str, dict[str, int | Split]] = field(default_factory=dict)
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
        self, name: str, label: str, to: Target, *, expected: Target, by: str, reason: str = "move"
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
