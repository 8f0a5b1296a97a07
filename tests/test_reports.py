"""Spend reports render the same rows as a table, CSV and JSON."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import orjson
import pytest

from keel.reports import parse_since, render

ROWS = [
    {"team": "research", "calls": 3, "input_tokens": 30, "cached_input_tokens": 0, "cache_write_tokens": 0,
     "output_tokens": 12, "reasoning_tokens": 0, "cost_usd": Decimal("0.000123")},
    {"team": None, "calls": 1, "input_tokens": 5, "cached_input_tokens": 0, "cache_write_tokens": 0,
     "output_tokens": 2, "reasoning_tokens": 0, "cost_usd": Decimal("0.000010")},
]  # fmt: skip


def test_table_has_rows_and_total() -> None:
    """The table shows each group, dollars to the micro-cent, and a total line."""
    text = render(ROWS, ["team"], "table")
    assert "research" in text and "$0.000123" in text and "$0.000133" in text and "total" in text


def test_csv_and_json_carry_the_same_numbers() -> None:
    """CSV and JSON hold every column exactly."""
    parsed = list(csv.DictReader(io.StringIO(render(ROWS, ["team"], "csv"))))
    assert parsed[0]["team"] == "research" and parsed[0]["cost_usd"] == "0.000123"
    data = orjson.loads(render(ROWS, ["team"], "json"))
    assert data[1]["calls"] == 1 and data[0]["cost_usd"] == "0.000123"


def test_since_spans_and_dates() -> None:
    """``--since`` takes spans and dates, and says what it takes when it cannot read one."""
    assert parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86400
    assert parse_since("2026-11-01") == 1793491200.0
    assert parse_since(None) is None
    with pytest.raises(ValueError, match="--since takes"):
        parse_since("yesterday")


def test_small_costs_are_plain_decimals() -> None:
    """A cost under a micro-dollar is written out in full in CSV and JSON, never as ``1.23E-7``."""
    rows = [{**ROWS[0], "cost_usd": Decimal(123) / Decimal(10) ** 9}]
    assert orjson.loads(render(rows, ["team"], "json"))[0]["cost_usd"] == "0.000000123"
    assert next(csv.DictReader(io.StringIO(render(rows, ["team"], "csv"))))["cost_usd"] == "0.000000123"
