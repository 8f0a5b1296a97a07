"""``keel prompts test`` against a real ``keel mock``: the cases in a version's ``tests:`` run
through the whole stack, each assertion judged; a failing case gives a FAIL row saying why and exit
code 1, all passing exit 0; ``--model`` asks another route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

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
