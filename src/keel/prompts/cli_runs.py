"""``keel prompts test`` and ``keel prompts stats``: running a version's test cases, and comparing
versions from the ledger (the commands of ``keel.prompts.cli`` that run calls or read the ledger)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from ..errors import KeelError
from .catalog import Catalog
from .cli import ConfigOption, DatabaseOption, _config_source, _run, _stdout, err, prompts_app
from .store import PromptStore

__all__ = ["stats", "test_prompt"]


@prompts_app.command("test")
def test_prompt(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="a version (default: latest)")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", "-l", help="the version a label points at")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="ask this model instead of the version's")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Run a version's test cases (its tests:) against its model, or --model; exit 1 if one fails."""
    from ..gateway import Gateway
    from .runner import CaseResult, run_cases

    async def work(catalog: Catalog, store: PromptStore) -> tuple[str, list[CaseResult]]:
        chosen = catalog.version(name, version, label)
        if not chosen.tests:
            raise ValueError(f"{chosen.ref} has no tests: add them under tests: (docs/prompts.md)")
        async with Gateway.from_config(_config_source(config)) as gateway:
            return chosen.ref, await run_cases(gateway, chosen, model=model)

    ref, results = _run(config, database, work)
    if output == "json":
        print(orjson.dumps({"prompt": ref, "cases": [result.public() for result in results]}).decode())
    else:
        table = Table(box=None, header_style="bold", pad_edge=False, title=f"{ref}", title_justify="left")
        for column in ("CASE", "RESULT", "COST", "LATENCY", "WHY"):
            table.add_column(column, no_wrap=column != "WHY")
        for result in results:
            verdict = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
            table.add_row(
                escape(result.name), verdict, f"${result.cost_usd:.6f}", f"{result.latency_s:.2f}s",
                escape("; ".join(result.failures)),
            )  # fmt: skip
        _stdout().print(table)
    failed = sum(1 for result in results if not result.passed)
    err.print(f"{len(results) - failed} passed, {failed} failed.")
    if failed:
        raise typer.Exit(1)


@prompts_app.command()
def stats(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    since: Annotated[str | None, typer.Option(help="7d, 24h, 2w, 1m or a date (default: all)")] = None,
    baseline: Annotated[
        int | None, typer.Option(help="the version the others are compared with (default: most calls)")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Compare the prompt's versions from the ledger: rates, latency, cost, and which differences
    are significant (two-proportion z-test, Mann-Whitney U, Holm-corrected)."""
    from ..config import load_config
    from ..reports import parse_since
    from ..stores.state import open_ledger
    from .stats import compare

    async def work() -> dict[str, Any]:
        ledger = open_ledger(database or load_config(_config_source(config)).database)
        try:
            query = getattr(ledger, "prompt_calls", None)
            if query is None:
                raise ValueError("this ledger engine cannot report prompt statistics")
            rows = await query(name, since=parse_since(since))
            scores = getattr(ledger, "prompt_feedback", None)
            feedback = await scores(name, since=parse_since(since)) if scores is not None else []
        finally:
            await ledger.close()
        return compare(rows, baseline=baseline, feedback=feedback)

    try:
        report = asyncio.run(work())
    except (KeelError, ValueError, ImportError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    if output == "json":
        print(orjson.dumps({"prompt": name, **report}).decode())
        return
    if not report["variants"]:
        err.print(
            f"No calls of prompt {escape(name)!r} in the ledger" + (f" since {since}." if since else ".")
        )
        return
    _stdout().print(_stats_table(name, report))
    if report["significant"]:
        for line in report["significant"]:
            err.print(escape(line) + ".")
    else:
        err.print(
            f"No significant difference from v{report['baseline']} (two-proportion z-test for rates, "
            "Mann-Whitney U for latency, cost and feedback; Holm-corrected, alpha 0.05)."
        )


def _stats_table(name: str, report: dict[str, Any]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False, title=name, title_justify="left")
    for column in (
        "VERSION",
        "CALLS",
        "ERRORS (95% CI)",
        "INVALID",
        "P50 MS",
        "P95 MS",
        "TTFT P50",
        "COST/CALL",
        "FEEDBACK",
    ):
        table.add_column(column, no_wrap=True)
    for row in report["variants"]:
        low, high = row["error_rate_ci"]
        invalid = row["validation_failure_rate"]
        ttft = row["ttft_p50_ms"]
        table.add_row(
            f"v{row['version']}" + (" (baseline)" if row["version"] == report["baseline"] else ""),
            str(row["calls"]),
            f"{row['error_rate']:.1%} ({low:.1%}-{high:.1%})",
            "-" if invalid is None else f"{invalid:.1%}",
            f"{row['latency_p50_ms']:.0f}",
            f"{row['latency_p95_ms']:.0f}",
            "-" if ttft is None else f"{ttft:.0f}",
            f"${row['cost_per_call_usd']:.6f}",
            "-"
            if row["feedback_mean"] is None
            else f"{row['feedback_mean']:.2f} (n={row['feedback_count']})",
        )
    return table
