"""``Split``: a label that divides traffic across versions, sticky per user, by buckets.

Every caller falls in one of 10,000 buckets — a hash of the prompt, the label and the caller's id
(the request's ``user``, else its key), so one caller always lands in the same bucket. A split owns
the buckets as ranges, each version its share; the caller gets the version owning its bucket.

A new split is laid out from the one before (``allocate``): each version keeps as many of its buckets
as its new share allows, and only the buckets freed go to versions that grow — so going from 90/10
to 80/20 moves exactly the 10 % of callers who must move, and no one else, whatever the number of
versions. A rollback restores the previous ranges, so every caller returns to where it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["BUCKETS", "Split", "allocate", "bucket"]

BUCKETS = 10_000

Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Split:
    """Versions and the bucket ranges ``[start, end)`` each owns; together they cover 0..9999."""

    ranges: tuple[tuple[int, Ranges], ...]  # (version, ranges), by version

    def pick(self, at: int) -> int:
        """The version owning bucket ``at``."""
        for version, owned in self.ranges:
            for start, end in owned:
                if start <= at < end:
                    return version
        raise ValueError(f"bucket {at} is in no range of {self.weights()}")  # a split always covers all

    def weights(self) -> dict[int, float]:
        """Each version's share in percent."""
        return {
            version: sum(end - start for start, end in owned) * 100 / BUCKETS
            for version, owned in self.ranges
        }

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(version for version, _ in self.ranges)

    def public(self) -> dict[str, float]:
        return {str(version): share for version, share in self.weights().items()}

    def text(self) -> str:
        """The stored form (canonical JSON: equal splits are equal strings, for compare-and-set)."""
        return orjson.dumps({str(v): [list(r) for r in owned] for v, owned in self.ranges}).decode()

    @classmethod
    def from_text(cls, text: str) -> Split:
        data = orjson.loads(text)
        return cls(
            tuple((int(v), tuple((s, e) for s, e in owned)) for v, owned in sorted(data.items(), key=_num))
        )


def _num(item: tuple[str, Any]) -> int:
    return int(item[0])


def bucket(prompt: str, label: str, caller: str) -> int:
    """The caller's bucket for one prompt's label: stable across processes and restarts."""
    digest = hashlib.blake2b(f"{prompt}\x00{label}\x00{caller}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def allocate(previous: int | Split | None, weights: Mapping[int, float]) -> int | Split:
    """The split for ``weights`` (percent by version, summing to 100) laid out from ``previous``:
    each version keeps what it can of its buckets; freed buckets go to the versions that grow.
    A single version at 100 % is that version."""
    live = {version: weight for version, weight in weights.items() if weight > 0}
    if len(live) == 1:
        return next(iter(live))
    sizes = _sizes(live)
    owned: dict[int, list[tuple[int, int]]] = {}
    if isinstance(previous, int):
        owned[previous] = [(0, BUCKETS)]
    elif isinstance(previous, Split):
        owned = {version: list(ranges) for version, ranges in previous.ranges}
    kept: dict[int, list[tuple[int, int]]] = {}
    for version, size in sizes.items():
        kept[version] = _take(owned.get(version, []), size)
    free = _complement([r for ranges in kept.values() for r in ranges])
    for version, size in sizes.items():
        need = size - sum(end - start for start, end in kept[version])
        given = _take(free, need)
        free = _complement([r for ranges in kept.values() for r in ranges] + given)
        kept[version] = _merge(kept[version] + given)
    return Split(tuple((version, tuple(kept[version])) for version in sorted(kept)))


def _sizes(weights: Mapping[int, float]) -> dict[int, int]:
    """Buckets per version (largest remainder, so they add up to ``BUCKETS`` exactly)."""
    total = sum(weights.values())
    exact = {version: weight * BUCKETS / total for version, weight in weights.items()}
    sizes = {version: int(share) for version, share in exact.items()}
    short = BUCKETS - sum(sizes.values())
    for version in sorted(exact, key=lambda v: exact[v] - sizes[v], reverse=True)[:short]:
        sizes[version] += 1
    return dict(sorted(sizes.items()))


def _take(ranges: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The first ``size`` buckets of ``ranges``, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if size <= 0:
            break
        part = min(end - start, size)
        out.append((start, start + part))
        size -= part
    return out


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, at = [], 0
    for start, end in _merge(ranges):
        if start > at:
            out.append((at, start))
        at = max(at, end)
    if at < BUCKETS:
        out.append((at, BUCKETS))
    return out


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif end > start:
            out.append((start, end))
    return out
