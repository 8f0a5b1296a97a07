"""``keel keys`` as an operator runs it: create, list, revoke, straight on the configured database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from keel.keys import KEY_PREFIX, hash_key

KEEL = str(Path(sys.executable).with_name("keel"))


def keel(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("KEEL_CONFIG", "COLUMNS")}
    return subprocess.run(
        [KEEL, *args], cwd=cwd, env={**environment, **(env or {})}, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "keel.yaml"
    path.write_text(f"database: sqlite:///{tmp_path}/keys.db\n")
    return path


def test_secret_is_printed_once_and_never_listed(tmp_path: Path, config: Path) -> None:
    """``create`` prints the secret alone on stdout and says so; ``list`` and the file never hold it."""
    made = keel(
        "keys", "create", "--name", "ci", "--team", "ml", "--models", "gpt-4o, openai/*",
        "--expires", "30d", "-m", "owner=ana", "-m", "env=prod", "--config", str(config), cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith(KEY_PREFIX) and "\n" not in secret
    assert "shown only this once" in made.stderr and secret not in made.stderr
    table = keel("keys", "list", "--config", str(config), cwd=tmp_path)
    as_json = keel("keys", "list", "--format", "json", "--config", str(config), cwd=tmp_path)
    for output in (table.stdout + table.stderr, as_json.stdout + as_json.stderr):
        assert secret not in output and secret[len(KEY_PREFIX) :] not in output
    [record] = orjson.loads(as_json.stdout)
    assert record["name"] == "ci" and record["team"] == "ml" and record["models"] == ["gpt-4o", "openai/*"]
    assert record["metadata"] == {"owner": "ana", "env": "prod"} and record["status"] == "active"
    assert record["key_hint"] == f"{secret[:12]}…{secret[-4:]}" and record["expires_at"]
    assert record["id"] in table.stdout and record["key_hint"] in table.stdout and "owner=ana" in table.stdout
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    assert secret[len(KEY_PREFIX) :].encode() not in raw and hash_key(secret).encode() in raw


def test_revoke_then_list_all(tmp_path: Path, config: Path) -> None:
    """A revoked key leaves ``list`` and shows as revoked under ``list --all``; revoking twice is fine."""
    keel("keys", "create", "--name", "stay", "--config", str(config), cwd=tmp_path)
    keel("keys", "create", "--name", "go", "--config", str(config), cwd=tmp_path)
    listed = orjson.loads(keel("keys", "list", "--format", "json", "-c", str(config), cwd=tmp_path).stdout)
    gone = next(k["id"] for k in listed if k["name"] == "go")
    revoked = keel("keys", "revoke", gone, "--config", str(config), cwd=tmp_path)
    assert revoked.returncode == 0 and f"Revoked {gone}" in revoked.stderr
    assert "already revoked" in keel("keys", "revoke", gone, "-c", str(config), cwd=tmp_path).stderr
    live = orjson.loads(keel("keys", "list", "--format", "json", "-c", str(config), cwd=tmp_path).stdout)
    every = orjson.loads(
        keel("keys", "list", "--all", "--format", "json", "-c", str(config), cwd=tmp_path).stdout
    )
    assert [k["name"] for k in live] == ["stay"]
    assert {(k["name"], k["status"]) for k in every} == {("stay", "active"), ("go", "revoked")}
    with sqlite3.connect(tmp_path / "keys.db") as db:
        assert db.execute(
            "SELECT revoked_at IS NOT NULL FROM virtual_keys WHERE id = ?", (gone,)
        ).fetchone() == (1,)


def test_list_by_team_and_an_empty_listing(tmp_path: Path, config: Path) -> None:
    """``--team`` narrows the listing; no keys at all says so instead of printing an empty table."""
    assert "No keys" in keel("keys", "list", "-c", str(config), cwd=tmp_path).stderr
    keel("keys", "create", "--name", "a", "--team", "red", "-c", str(config), cwd=tmp_path)
    keel("keys", "create", "--name", "b", "--team", "blue", "-c", str(config), cwd=tmp_path)
    red = orjson.loads(
        keel("keys", "list", "--team", "red", "--format", "json", "-c", str(config), cwd=tmp_path).stdout
    )
    assert [k["name"] for k in red] == ["a"]


def test_budget_flags_write_the_keys_budget(tmp_path: Path, config: Path) -> None:
    """``--budget-usd`` and ``--budget-window`` store the key's own budget as its metadata, and say so."""
    made = keel(
        "keys", "create", "--name", "capped", "--budget-usd", "25", "--budget-window", "day",
        "-c", str(config), cwd=tmp_path, env={"COLUMNS": "200"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "budget $25 (day)" in made.stderr
    [record] = orjson.loads(keel("keys", "list", "--format", "json", "-c", str(config), cwd=tmp_path).stdout)
    assert record["metadata"] == {"budget_usd": "25", "budget_window": "day"}


def test_budget_tokens_flag_writes_the_keys_token_budget(tmp_path: Path, config: Path) -> None:
    """``--budget-tokens`` stores the key's own token budget as its metadata, and says so."""
    made = keel(
        "keys", "create", "--name", "capped", "--budget-tokens", "100000", "--budget-window", "hour",
        "-c", str(config), cwd=tmp_path, env={"COLUMNS": "200"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "budget 100,000 tokens (hour)" in made.stderr
    [record] = orjson.loads(keel("keys", "list", "--format", "json", "-c", str(config), cwd=tmp_path).stdout)
    assert record["metadata"] == {"budget_tokens": "100000", "budget_window": "hour"}


def test_the_config_is_found_in_the_working_directory(tmp_path: Path, config: Path) -> None:
    """Without ``--config``, ``./keel.yaml`` names the database, as for every other command."""
    made = keel("keys", "create", "--name", "here", "--format", "json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert orjson.loads(made.stdout)["key"].startswith(KEY_PREFIX)
    assert (tmp_path / "keys.db").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "--name", "x", "--expires", "someday"], 2, "neither a duration"),
        (["create", "--name", "x", "--expires", "2001-01-01"], 2, "not in the future"),
        (["create", "--name", "x", "--expires", "99999999999999d"], 2, "too long a duration"),
        (["create", "--name", "x", "-m", "novalue"], 2, "is not k=v"),
        (["create", "--name", " "], 2, "name must be a non-empty string"),
        (["create", "--name", "x", "--budget-usd", "lots"], 2, "budget_usd must be a positive USD amount"),
        (["create", "--name", "x", "--budget-usd", "5", "-m", "budget_usd=6"], 2, "says otherwise"),
        (["list", "--format", "yaml"], 2, "use table or json"),
        (["revoke", "key_nope"], 1, "No virtual key with id 'key_nope'"),
    ],
)
def test_mistakes_get_a_message_and_an_exit_code(
    tmp_path: Path, config: Path, args: list[str], code: int, message: str
) -> None:
    """Bad options and unknown ids end with a clear message and a non-zero exit, no traceback."""
    result = keel("keys", *args, "--config", str(config), cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_database_is_a_message(tmp_path: Path) -> None:
    """A database that cannot be reached is reported in one line, not a traceback."""
    result = keel("keys", "list", "--database", "postgresql://nobody@127.0.0.1:1/x", cwd=tmp_path)
    assert result.returncode == 1 and "cannot use the key database" in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_on_postgres(tmp_path: Path, postgres_schema_url: str) -> None:
    """The same commands work on a PostgreSQL ``database:``."""
    config = tmp_path / "pg.yaml"
    config.write_text(f"database: {postgres_schema_url}\n")
    made = keel("keys", "create", "--name", "pg", "--format", "json", "-c", str(config), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    created = orjson.loads(made.stdout)
    assert keel("keys", "revoke", created["id"], "-c", str(config), cwd=tmp_path).returncode == 0
    listed = keel("keys", "list", "--all", "--format", "json", "-c", str(config), cwd=tmp_path)
    [record] = orjson.loads(listed.stdout)
    assert record["id"] == created["id"] and record["status"] == "revoked"
    assert created["key"] not in listed.stdout
