"""``keel prompts``: list, show and diff prompt versions; create one; move, remove or roll back a label.

The commands read ``keel.yaml`` for ``prompts.dir`` and ``database:`` and work on the database
directly, so they need no server: a running ``keel serve`` sees a change within
``prompts.refresh_interval``. Every label move is a compare-and-set and is recorded with who made it
(``--by``, default ``cli:<login name>``).
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
from .catalog import Catalog, diff, to_yaml
from .split import Split
from .store import PromptStore, open_prompt_store

__all__ = ["prompts_app"]

prompts_app = typer.Typer(
    help="Versioned prompts: list, show, diff, create, label, rollback, test, stats (no server needed).",
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


@prompts_app.command("list")
def list_prompts(
    output: FormatOption = "table", config: ConfigOption = None, database: DatabaseOption = None
) -> None:
    """Every prompt: its versions, the latest, and its labels."""
    rows = _run(config, database, lambda catalog, store: _value(catalog.summary()))
    if output == "json":
        print(orjson.dumps(rows).decode())
        return
    if not rows:
        err.print("No prompts (prompts.dir is empty or unset, and the database has none).")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("PROMPT", "VERSIONS", "LATEST", "LABELS"):
        table.add_column(column)
    for row in rows:
        labels = ", ".join(
            f"{label}→{n if isinstance(n, int) else _v(n)}" for label, n in row["labels"].items()
        )
        labels = labels or "-"
        table.add_row(
            escape(row["name"]), ", ".join(map(str, row["versions"])), str(row["latest"]), escape(labels)
        )
    _stdout().print(table)


@prompts_app.command()
def show(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="a version (default: latest)")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", "-l", help="the version a label points at")] = None,
    output: FormatOption = "yaml",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """One version (the latest unless told), the labels on it, and the prompt's recent label moves."""

    async def work(catalog: Catalog, store: PromptStore) -> dict[str, Any]:
        shown = catalog.describe(catalog.version(name, version, label))
        moves = await store.history(name, limit=20)
        return {**shown, "history": [move.public() for move in moves]}

    found = _run(config, database, work)
    if output == "json":
        print(orjson.dumps(found).decode())
        return
    history = found.pop("history")
    print(to_yaml(found), end="")
    if history:
        print("history:")
        for move in history:
            print(f"  {_when(move['at'])}  {move['label']}: {_v(move['from'])} → {_v(move['to'])}  "
                  f"by {move['by']} ({move['reason']})")  # fmt: skip


@prompts_app.command("diff")
def diff_versions(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    old: Annotated[str, typer.Argument(help="a version number or a label")],
    new: Annotated[str, typer.Argument(help="a version number or a label (default: latest)")] = "latest",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """The difference between two versions (numbers or labels), as a unified diff."""

    def pick(catalog: Catalog, which: str) -> Any:
        return catalog.version(name, int(which)) if which.isdigit() else catalog.version(name, label=which)

    text = _run(config, database, lambda catalog, store: _value(diff(pick(catalog, old), pick(catalog, new))))
    print(text or "(no difference)", end="" if text else "\n")


@prompts_app.command()
def create(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    file: Annotated[Path, typer.Option("--file", "-f", help="the version as YAML or JSON (- for stdin)")],
    label: Annotated[str | None, typer.Option("--label", "-l", help="point this label at it")] = None,
    by: ByOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Store a new version in the database (the next number unless the file says one)."""
    import sys

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        spec = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error), param_hint="--file") from None
    if not isinstance(spec, dict):
        raise typer.BadParameter("the file must hold a mapping (model:, system:, ...)", param_hint="--file")
    version, moved = _run(
        config, database, lambda catalog, store: catalog.create(store, name, spec, by=_by(by), label=label)
    )
    err.print(
        f"Created {escape(version.ref)}"
        + (f"; label {escape(label or '')} → {version.version}" if moved else "")
        + "."
    )


@prompts_app.command("label")
def move_label(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    label: Annotated[str, typer.Argument(help="the label (production, staging, ...)")],
    version: Annotated[
        str | None, typer.Argument(help="the version it should point at, or a split by percent: 3:90,4:10")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the label instead")] = False,
    by: ByOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Point a label at a version, split it across versions (sticky per user), or ``--remove`` it;
    refused if it moved since it was read."""
    if (version is None) == (not remove):
        raise typer.BadParameter("give a version, or --remove", param_hint="VERSION")
    to = None if version is None else _target(version)
    move = _run(config, database, lambda catalog, store: catalog.move(store, name, label, to, by=_by(by)))
    err.print(f"{escape(name)} {escape(label)}: {_v(move.from_version)} → {_v(move.to_version)}.")


@prompts_app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="the prompt's name")],
    label: Annotated[str, typer.Argument(help="the label to move back")] = "production",
    by: ByOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Move a label back to the version it pointed at before its last move."""
    move = _run(config, database, lambda catalog, store: catalog.rollback(store, name, label, by=_by(by)))
    err.print(
        f"{escape(name)} {escape(label)}: {_v(move.from_version)} → {_v(move.to_version)} (rolled back)."
    )


async def _value(value: T) -> T:
    return value


def _run(
    config: Path | None, database: str | None, work: Callable[[Catalog, PromptStore], Awaitable[T]]
) -> T:
    """Read the prompts (YAML and database), run one operation, close; errors become a message."""
    from ..config import load_config
    from .yaml_source import load_directory

    async def run(url: str, directory: str | None) -> T:
        store = open_prompt_store(url)
        try:
            catalog = await Catalog.read(load_directory(directory) if directory else {}, store)
            return await work(catalog, store)
        finally:
            await store.close()

    try:
        settings = load_config(_config_source(config))
        return asyncio.run(run(database or settings.database, settings.prompts.dir))
    except (KeelError, ValueError, ImportError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    except Exception as error:  # a CLI answers with a message, never a traceback
        err.print(f"[red]cannot use the prompt database: {type(error).__name__}: {escape(str(error))}[/red]")
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


def _target(text: str) -> int | dict[int, float]:
    """``3``, or ``3:90,4:10`` (version:percent, ...)."""
    try:
        if ":" not in text:
            return int(text)
        pairs = [part.split(":") for part in text.split(",") if part.strip()]
        return {int(version): float(weight) for version, weight in pairs}
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: a version (3) or a split (3:90,4:10)", param_hint="VERSION"
        ) from None


def _v(target: Any) -> str:
    """A label's target as the commands print it: ``v3``, ``v3 90% / v4 10%``, ``(unset)``."""
    if target is None:
        return "(unset)"
    if isinstance(target, Split):
        target = target.public()
    if isinstance(target, dict):
        return " / ".join(f"v{version} {float(share):g}%" for version, share in target.items())
    return f"v{target}"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stdout() -> Console:
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


from . import cli_runs  # noqa: E402, F401  (its commands, test and stats, join this group)
