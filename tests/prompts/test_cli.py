"""``keel prompts`` as an operator runs it, on a keel.yaml whose prompts.dir holds v1 and whose
database gets the rest: create, label, diff, show, rollback, and the refusals with their exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from keel.prompts.cli import prompts_app

KEEL = str(Path(sys.executable).with_name("keel"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts" / "summarize"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text("model: smart\nsystem: Be brief.\nuser_template: 'Summarise: {doc}'\n")
    (tmp_path / "v2.yaml").write_text(
        "model: smart\nsystem: Be very brief.\nuser_template: 'Summarise: {doc}'\n"
    )
    path = tmp_path / "keel.yaml"
    path.write_text(f"database: sqlite:///{tmp_path}/keel.db\nprompts: {{dir: {tmp_path}/prompts}}\n")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(prompts_app, [*args, "--config", str(config)])
    return result.exit_code, result.stdout, result.stderr


def test_a_version_goes_from_file_to_label_to_rollback(config: Path) -> None:
    """create stores v2 (labelled staging), label moves production, diff shows the change, show
    lists who moved what, rollback undoes the last move."""
    code, _, said = run(
        config, "create", "summarize", "--file", str(config.parent / "v2.yaml"), "--label", "staging"
    )
    assert (code, said.strip()) == (0, "Created summarize@2; label staging → 2.")
    assert run(config, "label", "summarize", "production", "1", "--by", "ana")[0] == 0
    code, _, said = run(config, "label", "summarize", "production", "2", "--by", "ana")
    assert (code, said.strip()) == (0, "summarize production: v1 → v2.")

    code, listed, _ = run(config, "list", "--format", "json")
    assert orjson.loads(listed) == [
        {"name": "summarize", "versions": [1, 2], "latest": 2, "labels": {"production": 2, "staging": 2}}
    ]
    code, text, _ = run(config, "diff", "summarize", "1", "production")
    assert "-system: Be brief.\n+system: Be very brief.\n" in text and "--- summarize@1 (yaml:" in text

    code, _, said = run(config, "rollback", "summarize", "production")
    assert (code, said.strip()) == (0, "summarize production: v2 → v1 (rolled back).")
    code, shown, _ = run(config, "show", "summarize", "--label", "production", "--format", "json")
    found = orjson.loads(shown)
    assert found["version"] == 1 and found["labels"] == ["production"] and found["source"].startswith("yaml:")
    assert [(m["from"], m["to"], m["reason"]) for m in found["history"]][:3] == [
        (2, 1, "rollback"),
        (1, 2, "move"),
        (None, 1, "move"),
    ]
    assert found["history"][0]["by"].startswith("cli:") and found["history"][1]["by"] == "ana"


def test_refusals_say_why_and_exit_non_zero(config: Path) -> None:
    """A missing version, the implicit latest label, an invalid file and a rollback with nothing
    before it each exit 1 with the reason on stderr."""
    cases = [
        (("label", "summarize", "production", "7"), "has no version 7; it has 1"),
        (("label", "summarize", "latest", "1"), "'latest' is implicit"),
        (("rollback", "summarize", "production"), "is not set: nothing to roll back"),
        (("show", "nope"), "no prompt named 'nope'"),
    ]
    for args, message in cases:
        code, _, said = run(config, *args)
        assert code == 1 and message in said, (args, said)
    (config.parent / "bad.yaml").write_text("model: smart\nuser_template: '{a.b}'\n")
    code, _, said = run(config, "create", "summarize", "--file", str(config.parent / "bad.yaml"))
    assert code == 1 and "user_template: '{a.b}'" in said


def test_the_keel_command_has_the_prompts_group(config: Path) -> None:
    """``keel prompts list`` runs from the installed command."""
    environment = {k: v for k, v in os.environ.items() if k not in ("KEEL_CONFIG", "COLUMNS")}
    done = subprocess.run(
        [KEEL, "prompts", "list", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    assert "summarize" in done.stdout and "PROMPT" in done.stdout


def test_a_label_splits_across_versions_by_percent(config: Path) -> None:
    """``label NAME LABEL 1:90,2:10`` splits the label; list shows the shares; a split that does not
    sum to 100 is refused."""
    run(config, "create", "summarize", "--file", str(config.parent / "v2.yaml"))
    assert run(config, "label", "summarize", "production", "1")[0] == 0
    code, _, said = run(config, "label", "summarize", "production", "1:90,2:10")
    assert (code, said.strip()) == (0, "summarize production: v1 → v1 90% / v2 10%.")
    code, listed, _ = run(config, "list", "--format", "json")
    assert orjson.loads(listed)[0]["labels"] == {"production": {"1": 90.0, "2": 10.0}}
    code, _, said = run(config, "label", "summarize", "production", "1:50,2:10")
    assert code == 1 and "summing to 100, not 60" in said
