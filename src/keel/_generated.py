"""``GeneratedBatches``: a source of batches that is read through one async generator of its own."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from .types import Chunk

__all__ = ["GeneratedBatches"]


class GeneratedBatches:
    """Reads through ``_read()``, one generator made on first use: resuming a generator costs less
    per read than a coroutine per ``__anext__``, and every ``async for`` over the source goes on
    with the same one. Subclasses keep it in a ``_reads`` slot (None until then)."""

    __slots__ = ()

    _reads: AsyncGenerator[list[Chunk], None] | None

    def __aiter__(self) -> AsyncGenerator[list[Chunk], None]:
        if self._reads is None:
            self._reads = self._read()  # type: ignore[misc]  # the slot is the subclass's
        return self._reads

    async def __anext__(self) -> list[Chunk]:
        return await self.__aiter__().__anext__()

    def _read(self) -> AsyncGenerator[list[Chunk], None]:
        raise NotImplementedError
