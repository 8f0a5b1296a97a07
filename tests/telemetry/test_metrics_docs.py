"""docs/metrics.md lists every metric Keel keeps, and the Grafana dashboard queries only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from keel.telemetry.metrics import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs"


def exposed_names() -> set[str]:
    """Every metric family's name as a scrape shows it (counters with ``_total``)."""
    names = set()
    for family in REGISTRY.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_the_page_lists_every_metric() -> None:
    """Each metric in the registry has its row in docs/metrics.md, and the page names no other."""
    listed = set(re.findall(r"^\| `(keel_[a-z_]+)` \|", (DOCS / "metrics.md").read_text(), flags=re.M))
    assert listed == exposed_names()


def test_the_dashboard_queries_only_metrics_that_exist() -> None:
    """docs/grafana-dashboard.json is JSON whose every query names metrics Keel keeps."""
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for query in queries
        for name in re.findall(r"keel_[a-z_]+", query)
    }
    assert used and used <= exposed_names()
