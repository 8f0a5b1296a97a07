"""How a ledger engine reports spend: one query shape, and one form and order for its rows.

Both engines select each grouping's expression under a name of its own and group by that same
expression — never by a bare name, which SQLite resolves to a table column before an alias (so
``model`` grouped by the answering model while the report showed the requested alias). Cost is
summed in nano-dollars, each record rounded half up as budgets settle; the rows are typed and
ordered here, so SQLite and PostgreSQL give identical reports for the same records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["GROUPINGS", "dimensions", "spend_query", "spend_rows"]

GROUPINGS = ("key", "team", "user", "model", "route", "hour", "day", "month")
"""What a report can group by; ``model`` is the alias the caller asked for, not the one that answered."""

_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")
_NANO = Decimal(10) ** 9


def dimensions(*, hour: str, day: str, month: str) -> dict[str, str]:
    """Each grouping's column in the ledger table; ``hour``, ``day`` and ``month`` are the engine's
    UTC ``2026-11-23T08``, ``2026-11-23`` and ``2026-11`` of ``started_at`` (budget windows' periods)."""
    return {
        "key": "key_id",
        "team": "team",
        "user": '"user"',
        "model": "requested_model",
        "route": "route",
        "hour": hour,
        "day": day,
        "month": month,
    }


def spend_query(
    by: Sequence[str], dimensions: Mapping[str, str], cost_nano: str, where: Sequence[str]
) -> str:
    """The engine's spend SQL: ``dimensions`` maps each grouping to its SQL expression, ``cost_nano``
    is one record's cost in nano-dollars, ``where`` the conditions already in the engine's dialect.

    Raises:
        ValueError: a grouping the ledger does not have.
    """
    unknown = [name for name in by if name not in GROUPINGS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; use {', '.join(GROUPINGS)}")
    groups = [dimensions[name] for name in by]
    selected = [
        *(f"{expression} AS group_{index}" for index, expression in enumerate(groups)),
        "count(*) AS calls",
        *(f"sum({column}) AS {column}" for column in _TOKENS),
        f"sum({cost_nano}) AS cost_nano",
    ]
    return (
        f"SELECT {', '.join(selected)} FROM ledger"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + (f" GROUP BY {', '.join(groups)}" if groups else "")
    )


def spend_rows(found: Sequence[Mapping[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """The query's rows as a report: groups by name, integers, an exact ``Decimal`` cost; the most
    expensive first, then by the groups' labels (a missing label first), so ties have one order."""
    rows = []
    for one in found:
        row: dict[str, Any] = {name: one[f"group_{index}"] for index, name in enumerate(by)}
        row["calls"] = int(one["calls"])
        tokens = {column: int(one[column] or 0) for column in _TOKENS}
        row["tokens"] = tokens["input_tokens"] + tokens["output_tokens"]  # what a token budget counts
        row.update(tokens)
        row["cost_usd"] = Decimal(int(one["cost_nano"] or 0)) / _NANO
        rows.append(row)
    rows.sort(key=lambda row: (-row["cost_usd"], *((row[name] is not None, row[name] or "") for name in by)))
    return rows
