"""Spend reports from the ledger: grouped rows, rendered as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

import orjson
from rich.console import Console
from rich.table import Table

from .stores.base import LedgerStore

__all__ = ["parse_since", "render", "spend"]

COLUMNS = (
    "calls",
    "tokens",  # input + output: what a token budget counts
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
)
_SPAN = re.compile(r"^(\d+)([hdwm])$")
_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400}


def parse_since(value: str | None, now: float | None = None) -> float | None:
    """``7d``, ``24h``, ``2w``, ``1m`` ago, or an ISO date, as a Unix time."""
    if not value:
        return None
    now = time.time() if now is None else now
    match = _SPAN.match(value.strip())
    if match:
        return now - int(match.group(1)) * _SECONDS[match.group(2)]
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since takes 7d, 24h, 2w, 1m or a date like 2026-11-01, not {value!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


async def spend(
    ledger: LedgerStore, by: Sequence[str], *, since: float | None = None, until: float | None = None
) -> list[dict[str, Any]]:
    """Grouped spend rows; the ledger engine does the grouping."""
    query = getattr(ledger, "spend", None)
    if query is None:
        raise ValueError("this ledger engine cannot report spend")
    rows: list[dict[str, Any]] = await query(list(by), since=since, until=until)
    return rows


def render(rows: list[dict[str, Any]], by: Sequence[str], fmt: Literal["table", "csv", "json"]) -> str:
    """The rows as a rich table (with a total line), CSV, or JSON."""
    columns = [*by, *COLUMNS]
    if fmt == "json":
        return orjson.dumps(
            rows, default=lambda value: str(_plain(value)), option=orjson.OPT_INDENT_2
        ).decode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({column: _plain(value) for column, value in row.items()} for row in rows)
        return out.getvalue()
    table = Table(title="Spend", show_footer=bool(rows))
    totals = {column: sum((row.get(column) or 0 for row in rows), start=Decimal(0)) for column in COLUMNS}
    for column in columns:
        numeric = column in COLUMNS
        footer = _cell(column, totals[column]) if numeric else ("total" if column == columns[0] else "")
        table.add_column(column, justify="right" if numeric else "left", footer=footer)
    for row in rows:
        table.add_row(*(_cell(column, row.get(column)) for column in columns))
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(table)
    return console.export_text()


def _plain(value: Any) -> Any:
    """A ``Decimal`` written out in full (``0.000000123``, not ``str``'s ``1.23E-7``); others as they are."""
    return format(value, "f") if isinstance(value, Decimal) else value


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "—"
    if column == "cost_usd":
        return f"${Decimal(value):.6f}"
    if isinstance(value, Decimal):
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
