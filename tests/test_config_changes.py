"""What a new keel.yaml changes, by key and never by value, and which changes need a restart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from keel.config import load_config
from keel.config_changes import RestartNeededError, changed_keys, check_reloadable
from keel.server.config_watch import ConfigWatch

BASE: dict[str, Any] = {
    "providers": {"openai": {"profile": "openai", "api_key": "sk-old-0000"}},
    "models": {"smart": ["openai/gpt-4o-mini"], "cheap": ["openai/gpt-4o-mini"]},
}


def changes(**new: Any) -> list[str]:
    return changed_keys(load_config(BASE), load_config({**BASE, **new}))


def test_keys_are_dotted_paths_and_lists_count_as_one() -> None:
    assert changes() == []
    assert changes(models={"smart": ["openai/gpt-4o"], "cheap": ["openai/gpt-4o-mini"]}) == ["models.smart"]
    assert changes(models={"smart": ["openai/gpt-4o-mini"]}) == ["models.cheap"]
    assert changes(timeouts={"idle": 5}, server={"port": 4100}) == ["server.port", "timeouts.idle"]
    assert changes(budgets=[{"scope": "key", "limit_usd": 5}]) == ["budgets"]


def test_a_rotated_secret_is_named_not_shown() -> None:
    providers = {"openai": {"profile": "openai", "api_key": "sk-new-1111"}}
    found = changes(providers=providers)
    assert found == ["providers.openai.api_key"]
    assert "sk-" not in repr(found)


@pytest.mark.parametrize("key", ["server.host", "server.port", "server.workers", "state", "database"])
def test_keys_read_at_start_are_refused_with_the_restart_message(key: str) -> None:
    with pytest.raises(RestartNeededError) as info:
        check_reloadable([key, "models.smart"])
    message = str(info.value)
    assert message.startswith(f"{key} changed: it is read only at start")
    assert "restart keel serve" in message and "nothing was reloaded" in message


def test_other_keys_reload() -> None:
    check_reloadable(["server.master_key", "server.drain_timeout", "models.smart", "cache.ttl"])


def test_the_watch_sees_a_new_file_and_not_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "keel.yaml"
    path.write_text("models: {}\n")
    watch = ConfigWatch(path)
    assert not watch.changed()
    path.write_text("models: {a: [local]}\n")  # a new size
    assert watch.changed() and not watch.changed()
    replacement = tmp_path / "keel.yaml.new"
    replacement.write_text("models: {b: [local]}\n")
    stat = path.stat()
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replacement.replace(path)  # same size and time, a new inode: an editor's write-and-rename
    assert watch.changed()
    path.unlink()
    assert not watch.changed()
