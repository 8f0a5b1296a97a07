"""``ConfigWatch``: whether ``keel.yaml`` changed since last looked at, by its file's identity and size.

A look is one ``stat``: a new modification time, size or inode (an editor that writes a new file and
renames it over the old one) counts as a change. A file that disappears is not a change — the next
one that appears is.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ConfigWatch"]


class ConfigWatch:
    """Remembers how the file looked; ``changed()`` says whether it looks different now."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._look()

    def _look(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def changed(self) -> bool:
        now = self._look()
        if now is None or now == self._seen:
            return False
        self._seen = now
        return True
