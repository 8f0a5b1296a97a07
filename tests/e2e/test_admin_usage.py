"""``GET /admin/usage``: what ``keel usage`` prints, over HTTP, for the master key only."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from keel.mock import MockServer
from keel.server.run import open_keys

from .conftest import RunningKeel, issue_key, mock_config, start_keel, user

KEEL = str(Path(sys.executable).with_name("keel"))
MASTER = "mk-usage-master-key"


@pytest.fixture
def served(upstream: MockServer, tmp_path: Path, uid) -> Iterator[tuple[RunningKeel, str, Path]]:
    """A server with auth on and a strict ledger, after three calls by a virtual key and one by the
    master key; yields it, the virtual key and a keel.yaml naming the same database."""
    database = f"sqlite:///{tmp_path / 'keel.db'}"
    config = mock_config(
        upstream,
        {"smart": [f"mock/{uid('ok:tokens=4')}"], "cheap": [f"mock/{uid('ok:tokens=1')}"]},
        server={"master_key": MASTER},
        database=database,
        ledger={"durability": "strict"},
    )
    running = start_keel(config)

    async def issue() -> str:
        store = open_keys(running.app.gateway.config)
        try:
            return (await store.create("reports"))[1]
        finally:
            await store.close()

    secret = asyncio.run(issue())
    for key, model in ((secret, "smart"), (secret, "smart"), (secret, "cheap"), (MASTER, "cheap")):
        answer = httpx.post(
            f"{running.v1}/chat/completions",
            json={"model": model, "messages": user(), "max_tokens": 8},
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200
    (tmp_path / "keel.yaml").write_text(f"database: {database}\n")
    yield running, secret, tmp_path / "keel.yaml"
    running.stop()


def report(running: RunningKeel, key: str | None = MASTER, **query: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{running.base_url}/admin/usage", params=query, headers=headers, timeout=10)


def cli_usage(config: Path, *args: str) -> str:
    done = subprocess.run(
        [KEEL, "usage", "--config", str(config), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_usage_matches_keel_usage(served: tuple[RunningKeel, str, Path]) -> None:
    """JSON and CSV from the endpoint are exactly what ``keel usage`` prints for the same query."""
    running, _, config = served
    as_json = report(running, by="key,model", since="7d", format="json")
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    rows = as_json.json()
    assert rows == orjson.loads(cli_usage(config, "--by", "key,model", "--since", "7d", "--format", "json"))
    assert sorted((row["model"], row["calls"], row["key"] is None) for row in rows) == [
        ("cheap", 1, False),
        ("cheap", 1, True),
        ("smart", 2, False),
    ]
    as_csv = report(running, by="key,model", since="7d", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    printed = cli_usage(config, "--by", "key,model", "--since", "7d", "--format", "csv")
    assert as_csv.text.splitlines() == printed.splitlines()  # CSV's own CRLF line ends, as RFC 4180
    assert report(running).json() == orjson.loads(cli_usage(config, "--format", "json"))  # by model, all time


def test_usage_needs_the_master_key(served: tuple[RunningKeel, str, Path]) -> None:
    """No key or a virtual key gets 401 in OpenAI's error shape; only the master key reads spend."""
    running, secret, _ = served
    for key in (None, secret):
        refused = report(running, key)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("query", "param"),
    [({"by": "colour"}, "by"), ({"since": "yesterday"}, "since"), ({"format": "xml"}, "format")],
)
def test_bad_queries_are_named(
    served: tuple[RunningKeel, str, Path], query: dict[str, str], param: str
) -> None:
    """A grouping, time or format the report does not know is a 400 naming the parameter."""
    refused = report(served[0], **query)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == param and next(iter(query.values())) in error["message"]


def test_usage_is_off_without_a_master_key(keel: RunningKeel) -> None:
    """With auth off there is no one to trust with spend: 403, saying how to turn the admin API on."""
    refused = report(keel, None)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin_disabled" and "KEEL_MASTER_KEY" in refused.text


def test_refused_calls_group_with_their_alias(upstream: MockServer, tmp_path: Path, uid) -> None:
    """One answered call and two budget refusals by one key on one alias are one row by key and model
    (the alias asked for, not the model that answered) — over HTTP and in ``keel usage`` alike."""
    database = f"sqlite:///{tmp_path / 'keel.db'}"
    config = mock_config(
        upstream,
        {"smart": [f"mock/{uid('ok:tokens=5')}"]},
        server={"master_key": MASTER},
        database=database,
        ledger={"durability": "strict"},
        pricing={"models": {"mock/*": {"input": 1_000, "output": 100_000}}},  # one answer: about 50¢
    )
    running = start_keel(config)
    try:
        record, secret = issue_key(
            running, "capped", metadata={"budget_usd": "1", "budget_window": "lifetime"}
        )
        key_id = record.id
        statuses = [
            httpx.post(
                f"{running.v1}/chat/completions",
                json={"model": "smart", "messages": user(), "max_tokens": 5},
                headers={"authorization": f"Bearer {secret}"},
                timeout=10,
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 429, 429]
        rows = report(running, by="key,model").json()
    finally:
        running.stop()
    [row] = rows
    assert (row["key"], row["model"], row["calls"]) == (key_id, "smart", 3)
    assert Decimal("0.4") < Decimal(row["cost_usd"]) < Decimal("0.55")
    (tmp_path / "keel.yaml").write_text(f"database: {database}\n")
    assert orjson.loads(cli_usage(tmp_path / "keel.yaml", "--by", "key,model", "--format", "json")) == rows
