"""``keel flags``: list, show, set, rollout, kill (and enable), stats — on the database directly.

The commands read ``keel.yaml`` for ``database:`` and need no server: every running ``keel serve``
sees a change within ``flags.refresh_interval``. Every change is a compare-and-set on the flag and
is recorded with who made it (``--by``, default ``cli:<login name>``).
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import KeelError
from . import edits
from .registry import FlagRegistry

__all__ = ["flags_app"]

flags_app = typer.Typer(
    help="Feature flags: list, show, set, rollout, kill, enable, stats (no server needed).",
    no_args_is_help=True,
)
err = Console(stderr=True)
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="keel.yaml (default: $KEEL_CONFIG or ./keel.yaml)")
]
DatabaseOption = Annotated[
    str | None, typer.Option("--database", help="a database URL, instead of the config's database:")
]
ByOption = Annotated[str | None, typer.Option("--by", help="who is making the change (default cli:<login>)")]
FormatOption = Annotated[str, typer.Option("--format", help="table (or yaml) or json")]
Name = Annotated[str, typer.Argument(help="the flag's name (the feature calls name)")]


@flags_app.command("list")
def list_flags(
    output: FormatOption = "table", config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """Every flag: its state (on, its rollout, or off and why), variants, default and fallback."""

    async def work(registry: FlagRegistry) -> list[dict[str, Any]]:
        snapshot = await registry.refresh()
        return [snapshot.flags[name].public() for name in sorted(snapshot.flags)]

    rows = _run(config, database, work)
    if output == "json":
        print(orjson.dumps(rows).decode())
        return
    if not rows:
        err.print("No flags. Create one with: keel flags set NAME --variant on")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("FLAG", "STATE", "VARIANTS", "DEFAULT", "FALLBACK", "RULES"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            escape(row["name"]),
            escape(row["state"]),
            escape(", ".join(row["variants"])),
            escape(row["default"] or "-"),
            escape(row["fallback"] or "-"),
            str(len(row["rules"])),
        )
    _stdout().print(table)


@flags_app.command()
def show(
    name: Name, output: FormatOption = "yaml", config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """One flag as stored, and its recent changes (who, when, what)."""

    async def work(registry: FlagRegistry) -> dict[str, Any]:
        snapshot = await registry.refresh()
        flag = snapshot.flags.get(name)
        if flag is None:
            raise ValueError(f"no feature flag named {name!r}")
        changes = await registry.store.history(name, limit=20)
        return {**flag.public(), "history": [change.public() for change in changes]}

    found = _run(config, database, work)
    if output == "json":
        print(orjson.dumps(found).decode())
        return
    history = found.pop("history")
    print(yaml.safe_dump(found, sort_keys=False), end="")
    if history:
        print("history:")
        for change in history:
            print(f"  {_when(change['at'])}  {change['action']}  by {change['by']}{_what(change)}")


@flags_app.command("set")
def set_flag(
    name: Name,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant", help='NAME or NAME=JSON ({"model", "prompt", "params"}); repeat for several'
        ),
    ] = None,
    default: Annotated[
        str | None, typer.Option(help="the variant of callers no rule or rollout picks")
    ] = None,
    fallback: Annotated[str | None, typer.Option(help="the variant served while the flag is off")] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help='JSON: {"variant", "keys", "teams", "users", "attributes"}; repeat'),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="the flag as YAML or JSON")] = None,
    by: ByOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create a flag, or change the fields given (the rest stay as they are)."""
    spec: dict[str, Any] = {}
    try:
        if file is not None:
            spec.update(yaml.safe_load(file.read_text()) or {})
            spec.pop("name", None)
        if variant:
            spec["variants"] = dict(_variant(text) for text in variant)
        if rule:
            spec["rules"] = [orjson.loads(text) for text in rule]
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error)) from None
    for field, value in (("default", default), ("fallback", fallback)):
        if value is not None:
            spec[field] = None if value in ("", "none") else value
    _change(config, database, name, edits.set_spec(name, spec), by, "set")


@flags_app.command("rollout")
def rollout_flag(
    name: Name,
    percent: Annotated[str, typer.Argument(help="10 (the flag's one variant) or new:10,other:5")],
    by: ByOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Roll the flag out to a percentage of callers, sticky per user; raising it keeps those already in."""

    def edit(current: Any) -> Any:
        return edits.rollout(name, edits.parse_rollout(percent, current))(current)

    _change(config, database, name, edit, by, f"rollout {percent}")


@flags_app.command()
def kill(
    name: Name, by: ByOption = None, config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """Turn the flag off on every replica (within flags.refresh_interval): calls in flight finish, new
    ones get the fallback variant or the refusal feature_disabled."""
    _change(config, database, name, edits.kill(name), by, "kill")


@flags_app.command()
def enable(
    name: Name, by: ByOption = None, config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """Turn the flag on again after a kill, or after its budget turned it off."""
    _change(config, database, name, edits.enable(name), by, "enable")


@flags_app.command()
def stats(
    name: Name,
    since: Annotated[str | None, typer.Option(help="7d, 24h, 2w, 1m or a date (default: all)")] = None,
    baseline: Annotated[str | None, typer.Option(help="the variant the others are compared with")] = None,
    output: FormatOption = "table",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Compare the flag's variants from the ledger: rates, latency, cost, feedback, and which
    differences are significant (as keel prompts stats)."""
    from ..config import load_config
    from ..reports import parse_since
    from ..stores.state import open_ledger
    from .report import flag_report

    async def work() -> dict[str, Any]:
        ledger = open_ledger(database or load_config(_config_source(config)).database)
        try:
            return await flag_report(ledger, name, since=parse_since(since), baseline=baseline)
        finally:
            await ledger.close()

    try:
        report = asyncio.run(work())
    except (KeelError, ValueError, ImportError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    if output == "json":
        print(orjson.dumps(report).decode())
        return
    if not report["variants"]:
        err.print(
            f"No calls of feature {escape(name)!r} in the ledger" + (f" since {since}." if since else ".")
        )
        return
    table = Table(box=None, header_style="bold", pad_edge=False, title=name, title_justify="left")
    for column in ("VARIANT", "CALLS", "ERRORS (95% CI)", "P50 MS", "P95 MS", "COST/CALL", "FEEDBACK"):
        table.add_column(column, no_wrap=True)
    for row in report["variants"]:
        low, high = row["error_rate_ci"]
        table.add_row(
            escape(str(row["version"])) + (" (baseline)" if row["version"] == report["baseline"] else ""),
            str(row["calls"]),
            f"{row['error_rate']:.1%} ({low:.1%}-{high:.1%})",
            f"{row['latency_p50_ms']:.0f}",
            f"{row['latency_p95_ms']:.0f}",
            f"${row['cost_per_call_usd']:.6f}",
            "-"
            if row["feedback_mean"] is None
            else f"{row['feedback_mean']:.2f} (n={row['feedback_count']})",
        )
    _stdout().print(table)
    for line in report["significant"] or [f"No significant difference from {report['baseline']}"]:
        err.print(escape(line) + ".")


def _what(change: dict[str, Any]) -> str:
    """The fields a change set, as ``: enabled false, rollout {new: 10}`` (none for a new flag)."""
    before, after = change["before"], change["after"]
    if before is None or after is None:
        return ": created" if before is None else ": deleted"
    changed = [key for key in after if key != "layout" and after.get(key) != before.get(key)]
    return (
        (": " + ", ".join(f"{key} {orjson.dumps(after[key]).decode()}" for key in changed)) if changed else ""
    )


def _variant(text: str) -> tuple[str, dict[str, Any]]:
    name, sep, body = text.partition("=")
    return name.strip(), (orjson.loads(body) if sep else {})


def _change(
    config: Path | None, database: str | None, name: str, edit: Any, by: str | None, action: str
) -> None:
    async def work(registry: FlagRegistry) -> Any:
        return await registry.change(name, edit, by=_by(by), action=action)

    flag = _run(config, database, work)
    err.print(f"{escape(name)}: {escape(flag.state() if flag is not None else 'deleted')}")


def _run(config: Path | None, database: str | None, work: Callable[[FlagRegistry], Awaitable[T]]) -> T:
    """Open the flag store, run one operation, close; errors become a message."""
    from ..config import load_config

    async def run(settings: Any) -> T:
        registry = FlagRegistry(settings)
        try:
            return await work(registry)
        finally:
            await registry.aclose()

    try:
        settings = load_config(_config_source(config))
        if database:
            settings = settings.model_copy(update={"database": database})
        return asyncio.run(run(settings))
    except (KeelError, ValueError, ImportError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    except Exception as error:  # a CLI answers with a message, never a traceback
        err.print(f"[red]cannot use the flag database: {type(error).__name__}: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None


def _config_source(config: Path | None) -> Path | dict[str, Any]:
    found = config or os.environ.get("KEEL_CONFIG") or ("keel.yaml" if Path("keel.yaml").exists() else None)
    return Path(found) if found else {}


def _by(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stdout() -> Console:
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console
