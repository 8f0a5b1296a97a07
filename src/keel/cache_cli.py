"""``keel cache``: how much the response cache holds, and clearing it by model or by key.

The commands open the configured cache backend (``cache.backend``, or ``state:``) directly, so they
need no server for SQLite or Redis. An in-memory cache lives inside ``keel serve``: ask the server
with ``--server URL`` (its ``/admin/cache`` endpoint, with ``$KEEL_MASTER_KEY``).
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from .errors import KeelError

if TYPE_CHECKING:
    from .stores.base import TTLMap

__all__ = ["cache_app"]

cache_app = typer.Typer(help="Inspect and clear the response cache.", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="keel.yaml (default: $KEEL_CONFIG or ./keel.yaml)")
]
ServerOption = Annotated[
    str | None, typer.Option("--server", help="a running keel serve to ask, e.g. http://127.0.0.1:4000")
]


@cache_app.command()
def stats(config: ConfigOption = None, server: ServerOption = None) -> None:
    """Entries and bytes in the cache (and, from a server, its hits, misses and coalesced calls)."""
    if server is not None:
        print(orjson.dumps(_admin(server, "GET"), option=orjson.OPT_INDENT_2).decode())
        return

    async def run(entries: TTLMap) -> dict[str, Any]:
        found = await entries.stats("cache:*")
        return {"entries": found.entries, "bytes": found.bytes}

    print(orjson.dumps(_run(config, run), option=orjson.OPT_INDENT_2).decode())


@cache_app.command()
def clear(
    model: Annotated[str | None, typer.Option("--model", "-m", help="only this model's entries")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", help="only this virtual key's entries")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="only this team's entries")] = None,
    config: ConfigOption = None,
    server: ServerOption = None,
) -> None:
    """Delete cached responses: all of them, or one model's and/or one key's (or team's)."""
    if server is not None:
        query = {name: value for name, value in (("model", model), ("key", key), ("team", team)) if value}
        deleted = _admin(server, "DELETE", query)["deleted"]
    else:
        from ._cache import clear_cache

        deleted = _run(config, lambda entries: clear_cache(entries, model=model, key=key, team=team))
    err.print(f"Deleted {deleted} cached response{'s' if deleted != 1 else ''}.")


def _run(config: Path | None, work: Callable[[TTLMap], Awaitable[T]]) -> T:
    from ._cache import cache_url
    from .config import load_config
    from .stores.state import open_cache_map

    try:
        settings = load_config(config)
        url = cache_url(settings)
        if url.startswith("memory://"):
            err.print(
                "[red]The cache is in memory (cache.backend or state: memory://): it lives inside keel "
                "serve. Ask the server: keel cache stats --server http://127.0.0.1:4000[/red]"
            )
            raise typer.Exit(2)
        entries = open_cache_map(url, max_bytes=settings.cache.max_bytes)

        async def run() -> T:
            try:
                return await work(entries)
            finally:
                close = getattr(entries, "aclose", None)
                if close is not None:
                    await close()

        return asyncio.run(run())
    except (KeelError, ValueError, OSError) as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


def _admin(server: str, method: str, query: dict[str, str] | None = None) -> Any:
    url = server.rstrip("/") + "/admin/cache" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    request = urllib.request.Request(url, method=method)
    if os.environ.get("KEEL_MASTER_KEY"):
        request.add_header("authorization", f"Bearer {os.environ['KEEL_MASTER_KEY']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return orjson.loads(answer.read())
    except OSError as error:  # URLError and HTTPError included
        err.print(f"[red]{server}: {error}[/red]")
        raise typer.Exit(1) from None
