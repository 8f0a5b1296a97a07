"""``keel cache stats`` and ``keel cache clear`` on a SQLite cache, with no server running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import yaml
from typer.testing import CliRunner

from keel import Gateway
from keel.cli import app
from keel.mock import MockServer


def test_stats_and_clear_by_model(tmp_path: Path) -> None:
    """Two models' answers are cached; stats counts both, clear --model removes one model's only."""
    config = tmp_path / "keel.yaml"

    async def fill() -> None:
        async with MockServer().serve() as base:
            config.write_text(
                yaml.safe_dump(
                    {
                        "providers": {"mock": {"profile": "generic", "base_url": base}},
                        "models": {"a": ["mock/ok:tokens=2"], "b": ["mock/ok:tokens=3"]},
                        "pricing": {"models": {"mock/*": {"input": 1, "output": 1}}},
                        "database": f"sqlite:///{tmp_path}/keel.db",
                        "cache": {"backend": f"sqlite:///{tmp_path}/cache.db"},
                    }
                )
            )
            async with Gateway.from_config(config) as gateway:
                for model in ("a", "b"):
                    await gateway.chat(model, [{"role": "user", "content": "hi"}], temperature=0)

    asyncio.run(fill())
    runner = CliRunner()
    stats = runner.invoke(app, ["cache", "stats", "--config", str(config)])
    assert stats.exit_code == 0, stats.output
    assert orjson.loads(stats.stdout)["entries"] == 2
    cleared = runner.invoke(app, ["cache", "clear", "--model", "a", "--config", str(config)])
    assert cleared.exit_code == 0 and "Deleted 1 cached response." in cleared.output
    assert orjson.loads(runner.invoke(app, ["cache", "stats", "-c", str(config)]).stdout)["entries"] == 1


def test_memory_cache_points_at_the_server(tmp_path: Path) -> None:
    """On an in-memory cache the command explains that the cache lives in ``keel serve``."""
    config = tmp_path / "keel.yaml"
    config.write_text(yaml.safe_dump({"database": f"sqlite:///{tmp_path}/keel.db"}))
    result = CliRunner().invoke(app, ["cache", "stats", "--config", str(config)])
    assert result.exit_code == 2 and "--server" in result.output
