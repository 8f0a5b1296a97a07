"""The multiprocess directory ``keel serve --workers N`` prepares for its workers' metric files."""

from pathlib import Path

import pytest

from keel.telemetry.exposition import MULTIPROC_ENV
from keel.telemetry.multiproc import prepare_multiproc_dir


def test_a_directory_of_its_own_when_the_operator_names_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PROMETHEUS_MULTIPROC_DIR, an empty directory is made and named in the variable."""
    monkeypatch.setenv(MULTIPROC_ENV, "")  # unset for this test, and restored after it
    path = prepare_multiproc_dir()
    assert path.is_dir() and not any(path.iterdir())
    assert Path(__import__("os").environ[MULTIPROC_ENV]) == path


def test_the_operators_directory_is_emptied_of_old_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An operator's directory is kept, but values an earlier run left in it are removed."""
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    assert prepare_multiproc_dir() == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
