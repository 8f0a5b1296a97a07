"""``trained_context``: the context length a GGUF model was trained with, read from its header alone.

xllamacpp reads GGUF metadata only through the optional ``gguf`` package (and numpy), and only by
parsing the whole file. The value sits among the first keys of the header (``general.*``, then
``<architecture>.*``, before the tokenizer's arrays), so reading keys until it appears takes a few
hundred bytes and no dependency. The format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path
from typing import BinaryIO

__all__ = ["trained_context"]

_STRING, _ARRAY = 8, 9
# Value type → struct format (little-endian), for the scalar types of GGUF v2 and v3.
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"
}  # fmt: skip
_MAX_KEYS = 64  # the context length comes long before; a header that hides it is not read whole


@cache
def trained_context(path: Path) -> int | None:
    """``<architecture>.context_length`` from the GGUF file at ``path``; None when it cannot be read."""
    try:
        with path.open("rb") as file:
            magic, version, _tensors, keys = struct.unpack("<4sIQQ", file.read(24))
            if magic != b"GGUF" or version < 2:
                return None
            architecture = None
            for _ in range(min(keys, _MAX_KEYS)):
                key = _string(file)
                (kind,) = struct.unpack("<I", file.read(4))
                value = _value(file, kind)
                if key == "general.architecture":
                    architecture = value
                elif architecture and key == f"{architecture}.context_length":
                    return value if isinstance(value, int) and value > 0 else None
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return None
    return None


def _string(file: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", file.read(8))
    if length > 1 << 20:
        raise ValueError("not a GGUF header string")
    return file.read(length).decode()


def _value(file: BinaryIO, kind: int) -> object:
    if kind == _STRING:
        return _string(file)
    if kind == _ARRAY:
        item, count = struct.unpack("<IQ", file.read(12))
        for _ in range(count):  # skipped, not kept: the arrays before the context length are short
            _value(file, item)
        return None
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise ValueError(f"unknown GGUF value type {kind}")
    return struct.unpack(fmt, file.read(struct.calcsize(fmt)))[0]
