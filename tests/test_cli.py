"""The ``keel`` command as a newcomer runs it: ``chat`` on the embedded defaults, and ``mock``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

KEEL = str(Path(sys.executable).with_name("keel"))


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "KEEL_CONFIG"}
    env["HOME"] = str(tmp_path)
    return env


@pytest.mark.local_model
def test_chat_on_embedded_defaults(tmp_path: Path) -> None:
    """With no config and no keys, ``keel chat`` answers from the local model and says so."""
    result = subprocess.run(
        [KEEL, "chat", "--verbose", "--max-tokens", "24", "Name a fruit."],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "via local/smollm2-135m-instruct" in result.stderr
    assert "OPENAI_API_KEY and ANTHROPIC_API_KEY are not set" in result.stderr
    report = subprocess.run(
        [KEEL, "usage", "--by", "route", "--format", "json"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    [row] = orjson.loads(report.stdout)
    assert row["route"] == "local/smollm2-135m-instruct" and row["calls"] == 1 and row["output_tokens"] > 0


def test_chat_with_a_broken_config_names_the_field(tmp_path: Path) -> None:
    """A wrong keel.yaml fails with exit code 1 and a message naming the field."""
    (tmp_path / "keel.yaml").write_text("providers:\n  x: {kind: openai, base_urll: u}\n")
    result = subprocess.run(
        [KEEL, "chat", "hi"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "providers.x.base_urll: unknown field" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_keel_mock_serves_the_catalogue(tmp_path: Path) -> None:
    """``keel mock`` starts a fake provider that ``keel chat`` can use through a keel.yaml."""
    port = free_port()
    mock = subprocess.Popen(
        [KEEL, "mock", "--port", str(port), "--fast"],
        env=clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        config = {
            "providers": {"mock": {"profile": "generic", "base_url": f"http://127.0.0.1:{port}/v1"}},
            "models": {"smart": ["mock/error-500:times=1,tokens=3", "local"]},
            "retry": {"initial_backoff": 0.01},
            "pricing": {"models": {"mock/*": "free"}},
        }
        (tmp_path / "keel.yaml").write_bytes(orjson.dumps(config))  # JSON is YAML
        result = subprocess.run(
            [KEEL, "chat", "-v", "-m", "smart", "hi"],
            cwd=tmp_path,
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "token0 token1 token2"
        assert "server_error" in result.stderr and ": ok in" in result.stderr
    finally:
        mock.terminate()
        mock.wait(timeout=10)


def write_ledger(path: Path) -> None:
    """Three calls of 2026 and one of 2023 in a SQLite ledger, with costs known to the micro-dollar."""
    from decimal import Decimal

    from keel.ledger import LedgerRecord
    from keel.stores.sqlite_ledger import SQLiteLedger

    def call(rid: str, at: float, model: str, team: str | None, cost: str, **tokens: int) -> LedgerRecord:
        return LedgerRecord(
            request_id=rid, started_at=at, status="ok", requested_model=model, stream=False, team=team,
            cost_usd=Decimal(cost), **tokens,
        )  # fmt: skip

    records = [
        call("a", 1_790_000_000.0, "smart", "research", "0.004512", input_tokens=1200,
             cached_input_tokens=200, cache_write_tokens=50, output_tokens=300, reasoning_tokens=100),
        call("b", 1_790_000_100.0, "smart", "research", "0.0021", input_tokens=800, output_tokens=50),
        call("c", 1_790_000_200.0, "cheap", None, "0.000015", input_tokens=10, output_tokens=5),
        call("old", 1_700_000_000.0, "smart", "research", "9.99", input_tokens=1, output_tokens=1),
    ]  # fmt: skip

    async def write() -> None:
        ledger = SQLiteLedger(path)
        try:
            await ledger.write([record.row() for record in records])
        finally:
            await ledger.close()

    asyncio.run(write())


def keel_output(tmp_path: Path, *args: str) -> str:
    """``keel *args`` run in ``tmp_path``: its standard output (it must succeed)."""
    result = subprocess.run(
        [KEEL, *args],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_keel_usage_as_csv_and_table(tmp_path: Path) -> None:
    """``keel usage`` groups the ledger as asked, within ``--since``, as exact CSV and a table with totals."""
    write_ledger(tmp_path / "keel.db")
    (tmp_path / "keel.yaml").write_text("database: sqlite:///keel.db\n")
    assert keel_output(
        tmp_path, "usage", "--by", "team", "--since", "2026-01-01", "--format", "csv"
    ).splitlines() == [
        "team,calls,tokens,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,reasoning_tokens,"
        "cost_usd",
        "research,2,2350,2000,200,50,350,100,0.006612",
        ",1,15,10,0,0,5,0,0.000015",
    ]
    table = keel_output(tmp_path, "usage", "--by", "team,model", "--since", "2026-01-01")
    header = [cell.strip() for cell in next(line for line in table.splitlines() if "┃" in line).split("┃")]
    assert header[1:-1] == [
        "team", "model", "calls", "tokens", "input_tokens", "cached_input_tokens", "cache_write_tokens",
        "output_tokens", "reasoning_tokens", "cost_usd",
    ]  # fmt: skip
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines() if "│" in line]
    assert rows == [
        ["research", "smart", "2", "2,350", "2,000", "200", "50", "350", "100", "$0.006612"],
        ["—", "cheap", "1", "15", "10", "0", "0", "5", "0", "$0.000015"],
        ["total", "", "3", "2,365", "2,010", "200", "50", "355", "100", "$0.006627"],
    ]
    everything = orjson.loads(keel_output(tmp_path, "usage", "--by", "team", "--format", "json"))
    assert everything[0]["cost_usd"] == "9.996612" and everything[0]["calls"] == 3  # 2023's call too


def test_keel_calls_prints_records_as_json_lines(tmp_path: Path) -> None:
    """``keel calls`` prints the newest ledger records as JSON lines, ``keel calls ID`` one request's,
    each with its ``content`` column (null: nothing was captured)."""
    write_ledger(tmp_path / "keel.db")
    (tmp_path / "keel.yaml").write_text("database: sqlite:///keel.db\n")
    newest = [orjson.loads(line) for line in keel_output(tmp_path, "calls", "--limit", "2").splitlines()]
    assert [row["request_id"] for row in newest] == ["old", "c"] and newest[0]["content"] is None
    [one] = [orjson.loads(line) for line in keel_output(tmp_path, "calls", "b").splitlines()]
    assert one["request_id"] == "b" and one["cost_usd"] == "0.0021"
