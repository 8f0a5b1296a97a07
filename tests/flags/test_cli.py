"""``keel flags`` as an operator runs it on a keel.yaml: set, rollout, kill, enable, list, show,
stats, and the refusals with their exit code."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from keel.flags.cli import flags_app


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "keel.yaml"
    path.write_text(f"database: sqlite:///{tmp_path}/keel.db\n")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(flags_app, [*args, "--config", str(config)])
    return result.exit_code, result.stdout, result.stderr


def test_a_flag_from_set_to_rollout_to_kill_and_back(config: Path) -> None:
    """set creates it, rollout raises it, kill turns it off, enable on again; list says each state
    and show lists every change with who made it."""
    variants = ["--variant", 'old={"model": "small"}', "--variant", 'new={"model": "large"}']
    assert run(config, "set", "summarizer", *variants, "--default", "old", "--fallback", "old")[0] == 0
    code, _, err = run(config, "rollout", "summarizer", "new:10", "--by", "ana")
    assert code == 0 and "on: new 10%" in err
    assert run(config, "rollout", "summarizer", "20")[2].strip() == "summarizer: on: new 20%"
    assert run(config, "kill", "summarizer", "--by", "bob")[2].strip() == "summarizer: off (killed)"
    code, out, _ = run(config, "list")
    assert code == 0 and "off (killed)" in out and "old, new" in out
    assert "on: new 20%" in run(config, "enable", "summarizer")[2]
    code, out, _ = run(config, "show", "summarizer", "--format", "json")
    shown = orjson.loads(out)
    assert [c["action"] for c in shown["history"]] == [
        "enable",
        "kill",
        "rollout 20",
        "rollout new:10",
        "set",
    ]
    assert shown["history"][1]["by"] == "bob" and shown["history"][1]["after"]["enabled"] is False


def test_refusals_exit_1_with_the_reason(config: Path) -> None:
    """Killing a flag that does not exist, a rollout over 100 %, a default naming no variant: exit 1
    and a message on stderr; no stats yet is a message, not a failure."""
    code, _, err = run(config, "kill", "nope")
    assert code == 1 and "no feature flag named 'nope'" in err
    assert run(config, "set", "f", "--variant", "a", "--variant", "b")[0] == 0
    code, _, err = run(config, "rollout", "f", "a:80,b:30")
    assert code == 1 and "more than 100" in err
    code, _, err = run(config, "set", "f", "--default", "c")
    assert code == 1 and "'c' is not one of a, b" in err
    code, _, err = run(config, "stats", "f")
    assert code == 0 and "No calls of feature 'f'" in err
