"""Reading a Prometheus scrape in tests: samples by name and labels, and what changed between two."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "changed", "label_values", "parse", "total"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of the scrape, keyed by its name and its labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def changed(before: Samples, after: Samples) -> Samples:
    """``after`` less ``before``, sample by sample, without the ones that did not change."""
    out = {key: value - before.get(key, 0.0) for key, value in after.items()}
    return {key: value for key, value in out.items() if value}


def total(samples: Samples, name: str, **labels: Any) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = {(key, str(value)) for key, value in labels.items()}
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def by(samples: Samples, name: str, *keys: str, **labels: Any) -> dict[tuple[str, ...], float]:
    """The samples named ``name`` (with ``labels``), summed by the values of ``keys``."""
    wanted = {(key, str(value)) for key, value in labels.items()}
    out: dict[tuple[str, ...], float] = {}
    for (sample, have), value in samples.items():
        if sample == name and wanted <= have:
            found = dict(have)
            group = tuple(found.get(key, "") for key in keys)
            out[group] = out.get(group, 0.0) + value
    return out


def label_values(samples: Samples) -> Iterator[str]:
    for _, labels in samples:
        for _, value in labels:
            yield value
