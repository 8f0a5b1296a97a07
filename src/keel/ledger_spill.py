"""``LedgerSpill``: ledger records kept on local disk while the ledger's database is away.

The writer appends a batch it could not write to a file of its own (JSON lines, one record each;
``fsync``ed for strict durability), so the records leave memory and survive the process. Files are
replayed into the database when it answers again — by this process, or, for a process that died
(its file is no longer locked), by the next one to start on the same directory. Each record carries
its ``record_id``, so a file replayed twice (a crash after the write, before the file was removed)
adds no row twice.

A file in use is locked (``flock``) by its process; a process only replays files it can lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from .telemetry.logs import get_logger

__all__ = ["LedgerSpill"]

log = get_logger("keel.ledger")


class LedgerSpill:
    """This process's spill file in ``directory``, and the replay of every unlocked one there."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._file: IO[bytes] | None = None
        self._path: Path | None = None

    def append(self, rows: Sequence[dict[str, Any]], *, sync: bool = False) -> None:
        """Add ``rows`` to this process's file (made and locked on first use)."""
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = self.directory / f"ledger-{os.getpid()}-{time.time_ns()}.jsonl"
            self._file = self._path.open("ab")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        self._file.write(b"".join(orjson.dumps(row, default=str) + b"\n" for row in rows))
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def seal(self) -> None:
        """Close this process's file: its records are ready to be replayed."""
        if self._file is not None:
            self._file.close()  # releases the lock
            self._file = self._path = None

    @property
    def pending(self) -> bool:
        """Whether there are records on disk (this process's or an unlocked file's)."""
        return self._file is not None or any(self.directory.glob("ledger-*.jsonl"))

    async def replay(self, store: Any, batch_size: int = 2048) -> int:
        """Write every unlocked file's records to ``store``, oldest file first, removing each file
        once written; the number of records replayed.

        Raises:
            Exception: the store's, when it refuses a batch (the file stays for the next try).
        """
        replayed = 0
        for path in sorted(self.directory.glob("ledger-*.jsonl"), key=_age):
            if path == self._path:
                continue
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                continue  # another process replayed it meanwhile
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process's file
                if not path.exists():
                    continue
                rows = [orjson.loads(line) for line in handle.read().splitlines() if line.strip()]
                for start in range(0, len(rows), batch_size):
                    await store.write(rows[start : start + batch_size])
                path.unlink()
                replayed += len(rows)
        if replayed:
            log.warning("ledger records replayed from the local spill", count=replayed)
        return replayed

    def abandon(self) -> None:
        """Let go of this process's file without sealing it in order (what a crash does)."""
        if self._file is not None:
            self._file.close()
            self._file = self._path = None


def _age(path: Path) -> int:
    try:
        return int(path.stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0
