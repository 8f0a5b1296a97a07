"""The ``keel`` command: ``chat`` against the configured cascade, and ``mock``, the fake provider."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import KeelError

__all__ = ["app", "main"]

app = typer.Typer(help="Keel: a reliable LLM gateway.", no_args_is_help=True, add_completion=False)
err = Console(stderr=True)

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
                err.print(f"[dim]model {response.model} via {response.route}[/dim]")
                for attempt in response.attempts:
                    err.print(f"[dim]  {attempt.route}: {attempt.outcome} in {attempt.duration_s:.3f}s[/dim]")

    try:
        asyncio.run(run())
    except KeelError as error:
        err.print(f"[red]{type(error).__name__}:[/red] {error}")
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


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="keel: %(levelname)s %(message)s")
    app()
