"""``keel prompts test`` against a real ``keel mock``: the cases in a version's ``tests:`` run
through the whole stack, each assertion judged; a failing case gives a FAIL row saying why and exit
code 1, all passing exit 0; ``--model`` asks another route."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from keel.errors import ServerError
from keel.mock import MockServer
from keel.prompts.cli import prompts_app

from .conftest import FAST

CASES = [
    {
        "name": "mentions token0",
        "variables": {"doc": "x"},
        "assert": [{"contains": "token0"}, {"max_latency_s": 10}],
    },
    {"name": "is JSON", "variables": {"doc": "x"}, "assert": [{"json_schema": {"type": "object"}}]},
    {
        "name": "cheap and fruity",
        "variables": {"doc": "x"},
        "assert": [{"contains": "banana"}, {"max_cost_usd": 0}],
    },
]


@pytest.fixture
def config(tmp_path: Path, mock_server: MockServer, uid: Any) -> Path:
    folder = tmp_path / "prompts" / "summarize"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(
        yaml.safe_dump(
            {"model": f"mock/{uid('ok:tokens=2')}", "user_template": "Sum up {doc}", "tests": CASES}
        )
    )
    (folder / "v2.yaml").write_text(
        yaml.safe_dump({"model": f"mock/{uid('ok:tokens=2')}", "user_template": "{doc}", "tests": CASES[:1]})
    )
    raw = {
        "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
        "database": f"sqlite:///{tmp_path}/keel.db",
        "prompts": {"dir": str(tmp_path / "prompts")},
        **FAST,
    }
    path = tmp_path / "keel.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(prompts_app, ["test", *args, "--config", str(config)], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_a_failing_case_gives_its_reasons_and_exit_code_1(config: Path) -> None:
    """Three cases on v1: the first passes, the second is not JSON, the third breaks both its
    assertions; the table says so row by row and the command exits 1."""
    code, table, said = run(config, "summarize", "--version", "1")
    assert code == 1 and said.strip() == "1 passed, 2 failed."
    rows = {line.split("  ")[0]: line for line in table.splitlines()}
    assert " pass " in rows["mentions token0"]
    assert "FAIL" in rows["is JSON"] and "the answer is not JSON" in rows["is JSON"]
    assert "does not contain 'banana'; cost $" in rows["cheap and fruity"]


def test_all_passing_exits_0_and_json_names_the_route(
    config: Path, mock_server: MockServer, uid: Any
) -> None:
    """v2's one case passes (exit 0); --model sends it to another route, which the JSON names."""
    other = uid("ok:tokens=3")
    code, text, said = run(config, "summarize", "--model", f"mock/{other}", "--format", "json")
    assert (code, said.strip()) == (0, "1 passed, 0 failed.")
    found = orjson.loads(text)
    assert found["prompt"] == "summarize@2"
    [case] = found["cases"]
    assert case["passed"] and case["route"] == f"mock/{other}" and case["answer"] == "token0 token1 token2"
    assert len(mock_server.attempts(model=other)) == 1


async def test_stats_flags_the_version_whose_route_fails_a_fifth_of_its_calls(
    gateway_for: Any, tmp_path: Path, uid: Any
) -> None:
    """60 calls on each of two versions through the mock, v2's route answering 500 to its first 12
    (no retries): ``keel prompts stats`` reports v2's 20 % error rate and flags it as significantly
    worse than v1 on error rate (two-proportion z-test). (Its failed calls also cost nothing, which
    the cost comparison may rightly flag.)"""
    root = tmp_path / "prompts" / "greet"
    root.mkdir(parents=True)
    (root / "v1.yaml").write_text(f"model: mock/{uid('ok')}\nuser_template: 'Hi {{who}}'\n")
    (root / "v2.yaml").write_text(
        f"model: mock/{uid('error-500:times=12')}\nuser_template: 'Hello {{who}}'\n"
    )
    gateway = gateway_for(
        {},
        prompts={"dir": str(tmp_path / "prompts")},
        retry={"max_attempts": 1, "per_call_retries": 0},
        breaker={"failure_threshold": 1000},
        ledger={"durability": "strict"},
    )
    for version in (1, 2):
        for _ in range(60):
            with contextlib.suppress(ServerError):  # v2's first twelve
                await gateway.prompt("greet", version=version).chat(who="a")
    config = tmp_path / "keel.yaml"
    config.write_text(f"database: {gateway.config.database}\n")

    arguments = ["stats", "greet", "--format", "json", "--config", str(config)]
    result = await asyncio.to_thread(CliRunner().invoke, prompts_app, arguments)  # it runs its own loop

    report = orjson.loads(result.stdout)
    assert [(v["version"], v["calls"], v["error_rate"]) for v in report["variants"]] == [
        (1, 60, 0.0),
        (2, 60, 0.2),
    ]
    assert report["baseline"] == 1
    [error_rate] = [c for c in report["comparisons"] if c["metric"] == "error rate"]
    assert (
        error_rate["significant"] and error_rate["direction"] == "worse" and error_rate["p_adjusted"] < 0.01
    )
    assert report["significant"][0].startswith("v2 is significantly worse than v1 on error rate")
