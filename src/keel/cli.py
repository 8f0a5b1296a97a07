"""The ``keel`` command: ``serve`` the HTTP gateway, ``chat`` against the cascade, ``mock`` a provider."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from typer.core import TyperGroup

from .errors import KeelError

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click import Command, Context

__all__ = ["app", "main"]


class _Commands(TyperGroup):
    """The ``keel`` group: the ``keys``, ``cache``, ``prompts`` and ``flags`` command groups (and rich, which
    they use) are imported when asked for or listed in the help, so ``keel serve`` starts without
    them."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "keys": ("keel.keys_cli", "keys_app"),
        "cache": ("keel.cache_cli", "cache_app"),
        "prompts": ("keel.prompts.cli", "prompts_app"),
        "flags": ("keel.flags.cli", "flags_app"),
    }

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in self.LAZY if name not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attribute = self.LAZY[cmd_name]
            group = typer.main.get_group(getattr(import_module(module), attribute))
            group.name = cmd_name
            self.commands[cmd_name] = group
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_Commands, help="Keel: a reliable LLM gateway.", no_args_is_help=True, add_completion=False
)


@cache
def _err() -> Console:
    """The console for messages on stderr (rich loads when there is one to write)."""
    from rich.console import Console

    return Console(stderr=True)


ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="keel.yaml (default: $KEEL_CONFIG or ./keel.yaml)")
]


@app.command()
def chat(
    prompt: Annotated[str, typer.Argument(help="what to ask")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="a configured model or provider/model")
    ] = "default",
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it arrives")] = False,
    system: Annotated[str | None, typer.Option(help="a system prompt")] = None,
    max_tokens: Annotated[int, typer.Option(help="most tokens to generate")] = 256,
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show the route and attempts")] = False,
) -> None:
    """Ask the configured cascade one question."""
    from .gateway import Gateway

    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]

    async def run() -> None:
        async with Gateway.from_config(config) as gateway:
            if stream:
                answer = gateway.stream(model, messages, max_tokens=max_tokens)
                async for chunk in answer:
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
                sys.stdout.write("\n")
                response = answer.response
            else:
                response = await gateway.chat(model, messages, max_tokens=max_tokens)
                print(response.text)
            if verbose and response is not None:
                _err().print(f"[dim]model {response.model} via {response.route}[/dim]")
                for attempt in response.attempts:
                    _err().print(
                        f"[dim]  {attempt.route}: {attempt.outcome} in {attempt.duration_s:.3f}s[/dim]"
                    )

    try:
        asyncio.run(run())
    except KeelError as error:
        _err().print(f"[red]{type(error).__name__}:[/red] {error}")
        raise typer.Exit(1) from None


@app.command()
def mock(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8090,
    api_key: Annotated[str | None, typer.Option(help="require this bearer key")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="no realistic delays")] = False,
) -> None:
    """Run the fault-injecting fake provider; the model name picks the behaviour (see docs/mock.md)."""
    from .mock import run

    run(host=host, port=port, api_key=api_key, realistic=not fast)


@app.command()
def usage(
    by: Annotated[
        str, typer.Option(help="group by: key, team, user, model, route, hour, day, month (comma-separated)")
    ] = "model",
    since: Annotated[str | None, typer.Option(help="7d, 24h, 2w, 1m, or a date")] = None,
    until: Annotated[str | None, typer.Option(help="a date; default now")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    config: ConfigOption = None,
) -> None:
    """Spend and tokens from the ledger, grouped as you ask."""
    from .config import load_config
    from .reports import parse_since, render, spend
    from .stores.state import open_ledger

    groups = [name.strip() for name in by.split(",") if name.strip()]
    if fmt not in ("table", "csv", "json"):
        _err().print("[red]--format takes table, csv or json[/red]")
        raise typer.Exit(2)

    async def run() -> str:
        ledger = open_ledger(load_config(config).database)
        try:
            rows = await spend(ledger, groups, since=parse_since(since), until=parse_since(until))
        finally:
            await ledger.close()
        return render(rows, groups, fmt)  # type: ignore[arg-type]

    try:
        report = asyncio.run(run())
        sys.stdout.write(report if report.endswith("\n") else report + "\n")  # CSV ends its own last line
    except (KeelError, ValueError) as error:
        _err().print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


@app.command()
def calls(
    request_id: Annotated[str | None, typer.Argument(help="one request's records (its x-request-id)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many of the newest records")] = 20,
    config: ConfigOption = None,
) -> None:
    """The newest calls' ledger records as JSON lines, with their redacted content when
    ``capture.content`` was on (docs/privacy.md)."""
    import orjson

    from .config import load_config
    from .stores.state import open_ledger

    async def run() -> list[dict[str, object]]:
        ledger = open_ledger(load_config(config).database)
        try:
            return list(await ledger.rows(limit, request_id=request_id))  # type: ignore[attr-defined]
        finally:
            await ledger.close()

    for row in asyncio.run(run()):
        sys.stdout.write(orjson.dumps(row, default=str).decode() + "\n")


@app.command()
def pseudonym(
    user: Annotated[str, typer.Argument(help="a user id as callers send it (the request's user)")],
    config: ConfigOption = None,
) -> None:
    """What the ledger and the counters hold for a user id (docs/privacy.md): to find its lines."""
    from .config import load_config
    from .privacy import user_ids_for

    stored = user_ids_for(load_config(config)).ref(user)
    sys.stdout.write(f"{stored}\n")


@app.command("pseudonymize-ledger")
def pseudonymize_ledger(config: ConfigOption = None) -> None:
    """Rewrite the user ids of ledger rows written before pseudonyms (docs/privacy.md)."""
    from .config import load_config
    from .privacy import user_ids_for
    from .stores.state import open_ledger

    loaded = load_config(config)
    users = user_ids_for(loaded)
    if not users.pseudonymous:
        _err().print(
            "[red]user ids are kept as sent (no key, or privacy.user_ids: clear): nothing to do[/red]"
        )
        raise typer.Exit(2)

    def pseudonym(user: str) -> str | None:
        return None if users.is_pseudonym(user) else users.ref(user)

    async def run() -> int:
        ledger = open_ledger(loaded.database)
        try:
            return int(await ledger.rename_users(pseudonym))  # type: ignore[attr-defined]
        finally:
            await ledger.close()

    changed = asyncio.run(run())
    sys.stdout.write(f"{changed} ledger rows now hold pseudonyms\n")


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (default 4000)")] = None,
    workers: Annotated[
        int | None, typer.Option(help="worker processes; more than 1 needs state: redis://...")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="uvicorn and Keel log level; warning hides access logs")
    ] = "info",
) -> None:
    """Run the OpenAI-compatible server (default: 127.0.0.1:4000 with the default cascade)."""
    from .server.launch import launch

    try:
        launch(config, host=host, port=port, workers=workers, log_level=log_level)
    except KeelError as error:  # one unwrapped line, so the command it suggests can be copied
        from rich.markup import escape

        _err().print(f"[red]{type(error).__name__}:[/red] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(1) from None


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="keel: %(levelname)s %(message)s")
    if sys.argv[1:2] == ["serve"] and "--help" not in sys.argv:
        _starting_server()
    app()


def _starting_server() -> None:
    """Before ``keel serve`` parses its options (which imports pydantic) and imports the server."""
    # Start-up builds objects that live until shutdown and leaves little garbage: no collections
    # while it imports and builds (~10% of its time); ``server.run.serve`` turns the collector on.
    gc.disable()
    # SIGHUP reloads the config once the server can (``Reloader.start`` unblocks it); until then it
    # waits, in every thread started from here on, instead of ending the process.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    # aiohttp builds its default TLS contexts when imported (~0.1 s reading the CA bundle, with the
    # GIL released): import it in a thread, so that overlaps start-up's other imports.
    threading.Thread(target=import_module, args=("aiohttp",), name="keel-import", daemon=True).start()
