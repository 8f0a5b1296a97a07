"""``keel keys``: create, list and revoke virtual keys, working on the configured database directly.

The commands open the ``database:`` of ``keel.yaml`` themselves, so they run on the operator's
machine with no server up. ``create`` prints the secret once, alone on stdout (so a script can
capture it) with the explanation on stderr; nothing else ever prints it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import KeelError
from .keys import VirtualKey, key_budget, key_token_budget, parse_expiry

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Issue, list and revoke virtual keys (on the configured database; no server needed).",
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
Format = Literal["table", "json"]


@keys_app.command()
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="who or what the key is for")],
    team: Annotated[str | None, typer.Option("--team", "-t", help="the team it belongs to")] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="comma-separated models it may use (default: all)")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="a duration (30d, 12h) or a date (2026-12-31)")
    ] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", "-m", help="k=v, repeatable: stored with the key")
    ] = None,
    budget_usd: Annotated[
        str | None, typer.Option("--budget-usd", help="the key's own hard budget in USD (budget_usd=)")
    ] = None,
    budget_tokens: Annotated[
        str | None,
        typer.Option("--budget-tokens", help="the key's own hard budget in tokens (budget_tokens=)"),
    ] = None,
    budget_window: Annotated[
        str | None,
        typer.Option("--budget-window", help="its window: hour, day, month (default), lifetime, request"),
    ] = None,
    output: Annotated[str, typer.Option("--format", help="text (the secret alone) or json")] = "text",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Issue a key; its secret is printed this once and cannot be shown again."""
    if output not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    try:
        expires_at = parse_expiry(expires) if expires else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--expires") from None
    allowed = [m.strip() for m in models.split(",") if m.strip()] if models is not None else None
    fields = _metadata(metadata or [])
    flags = (("budget_usd", budget_usd), ("budget_tokens", budget_tokens), ("budget_window", budget_window))
    for field, value in flags:
        if value is not None:
            flag = "--" + field.replace("_", "-")
            if fields.get(field, value) != value:
                raise typer.BadParameter(f"--metadata {field}= says otherwise", param_hint=flag)
            fields[field] = value.strip()
    record, secret = _run(
        config,
        database,
        lambda store: store.create(name, team=team, models=allowed, expires_at=expires_at, metadata=fields),
    )
    if output == "json":
        print(orjson.dumps({**record.public(), "key": secret}).decode())
        err.print("[yellow]The key is shown only this once: store it now.[/yellow]")
        return
    err.print(f"Created virtual key [bold]{record.id}[/bold] ({_describe(record)}).")
    err.print("[yellow]The key below is shown only this once: store it now.[/yellow]")
    print(secret, flush=True)


@keys_app.command("list")
def list_keys(
    team: Annotated[str | None, typer.Option("--team", "-t", help="only this team's keys")] = None,
    show_all: Annotated[bool, typer.Option("--all", "-a", help="include revoked keys")] = False,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """List keys (never their secrets): id, name, team, models, hint, times, status."""
    if output not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--format")
    records = _run(config, database, lambda store: store.list(team=team, include_revoked=show_all))
    if output == "json":
        print(orjson.dumps([record.public() for record in records]).decode())
        return
    if not records:
        err.print("No keys" + (f" for team {escape(repr(team))}" if team else "") + ".")
        return
    _stdout().print(_table(records))


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id, as in `keel keys list`")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke a key; a running server refuses it within a few seconds (its lookup cache's TTL)."""

    async def revoke_one(store: Any) -> VirtualKey | None:
        record: VirtualKey | None = await store.get(key_id)
        if record is not None and record.revoked_at is None:
            await store.revoke(key_id)
        return record

    record = _run(config, database, revoke_one)
    if record is None:
        err.print(f"[red]No virtual key with id {escape(repr(key_id))}.[/red]")
        raise typer.Exit(1)
    if record.revoked_at is not None:
        err.print(f"{record.id} was already revoked at {_when(record.revoked_at)}.")
        return
    err.print(f"Revoked {record.id} ({_describe(record)}).")


def _run(config: Path | None, database: str | None, operation: Callable[[Any], Awaitable[T]]) -> T:
    """Open the key store, run one operation, close it; errors become a message and an exit code."""
    from .config import load_config
    from .stores import open_key_store

    async def run() -> T:
        store = open_key_store(url, cache_ttl=0)
        try:
            return await operation(store)
        finally:
            await store.close()

    try:
        url = database or load_config(_config_source(config)).database
        return asyncio.run(run())
    except ValueError as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from None
    except (KeelError, ImportError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    except Exception as error:  # a CLI answers with a message, never a traceback
        err.print(f"[red]cannot use the key database: {type(error).__name__}: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None


def _config_source(config: Path | None) -> Path | dict[str, Any]:
    """The config file ``load_config`` would find; with none, the defaults (no provider warnings)."""
    found = config or os.environ.get("KEEL_CONFIG") or ("keel.yaml" if Path("keel.yaml").exists() else None)
    return Path(found) if found else {}


def _metadata(pairs: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--metadata")
        fields[key.strip()] = value
    return fields


def _table(records: list[VirtualKey]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "TEAM", "MODELS", "KEY", "EXPIRES", "STATUS", "METADATA"):
        table.add_column(column, no_wrap=column in ("ID", "KEY", "EXPIRES", "STATUS"))
    colour = {"active": "green", "expired": "yellow", "revoked": "red"}
    for record in records:
        status = record.status()
        table.add_row(
            escape(record.id),
            escape(record.name),
            escape(record.team or "-"),
            escape(", ".join(record.models) if record.models is not None else "all"),
            escape(record.hint),
            record.expires_at.strftime("%Y-%m-%d") if record.expires_at else "never",
            f"[{colour[status]}]{status}[/{colour[status]}]",
            escape(", ".join(f"{k}={v}" for k, v in record.metadata.items())),
        )
    return table


def _stdout() -> Console:
    """Rich's console; piped output gets room for the whole table instead of 80 columns."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def _describe(record: VirtualKey) -> str:
    parts = [f"name {record.name!r}"]
    if record.team:
        parts.append(f"team {record.team!r}")
    parts.append("models " + (", ".join(record.models) if record.models is not None else "all"))
    if record.expires_at:
        parts.append(f"expires {_when(record.expires_at)}")
    try:
        budget, tokens = key_budget(record.metadata), key_token_budget(record.metadata)
    except ValueError:  # a key stored before budget fields were checked
        budget = tokens = None
    if budget is not None:
        parts.append(f"budget ${budget[0]} ({budget[1]})")
    if tokens is not None:
        parts.append(f"budget {tokens[0]:,} tokens ({tokens[1]})")
    return escape("; ".join(parts))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
