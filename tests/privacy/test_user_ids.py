"""User ids at rest: a keyed hash, stable for grouping, different under another key, clear only by
the operator's choice or for want of any key."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keel.config import Config
from keel.privacy import user_ids_for
from keel.stores.sqlite_ledger import SQLiteLedger

from ..stores.test_ledger_contract import record


def config(**fields: object) -> Config:
    return Config.model_validate({"providers": {}, "models": {}, **fields})


def test_a_pseudonym_is_stable_and_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_USER_ID_KEY", raising=False)
    monkeypatch.delenv("KEEL_MASTER_KEY", raising=False)
    one = user_ids_for(config(privacy={"user_id_key": "k1"}))
    other = user_ids_for(config(privacy={"user_id_key": "k2"}))
    stored = one.ref("alice@example.com")
    assert stored is not None and stored.startswith("u_") and len(stored) == 34
    assert "alice" not in stored and stored == one.ref("alice@example.com")
    assert stored != one.ref("bob@example.com") and stored != other.ref("alice@example.com")
    assert one.ref(None) is None


def test_where_the_key_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_USER_ID_KEY", raising=False)
    monkeypatch.delenv("KEEL_MASTER_KEY", raising=False)
    assert user_ids_for(config()).ref("alice") == "alice"  # no key anywhere: as sent
    from_master = user_ids_for(config(server={"master_key": "sk-master-1"})).ref("alice")
    assert from_master is not None and from_master.startswith("u_")
    monkeypatch.setenv("KEEL_MASTER_KEY", "sk-master-1")
    assert user_ids_for(config()).ref("alice") == from_master  # the same master key, the same pseudonym
    monkeypatch.setenv("KEEL_USER_ID_KEY", "own")
    assert user_ids_for(config()).ref("alice") == user_ids_for(config(privacy={"user_id_key": "own"})).ref(
        "alice"
    )
    clear = config(privacy={"user_ids": "clear", "user_id_key": "own"})
    assert user_ids_for(clear).ref("alice") == "alice"  # the operator's explicit choice


def test_the_ledger_s_earlier_rows_are_rewritten_by_the_cli(tmp_path: Path) -> None:
    database = tmp_path / "keel.db"
    rows = [{**record("alice", "0.1"), "request_id": "r1"}, {**record("alice", "0.2"), "request_id": "r2"}]

    async def write() -> None:
        ledger = SQLiteLedger(database)
        await ledger.write(rows)
        await ledger.close()

    asyncio.run(write())
    written = tmp_path / "keel.yaml"
    settings = {
        "providers": {},
        "models": {},
        "database": f"sqlite:///{database}",
        "privacy": {"user_id_key": "k"},
    }
    written.write_text(yaml.safe_dump(settings))
    cli = Path(sys.executable).parent / "keel"
    run = subprocess.run(
        [str(cli), "pseudonymize-ledger", "--config", str(written)], capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stdout.strip() == "2 ledger rows now hold pseudonyms", run.stderr
    assert b"alice" not in database.read_bytes()
    clear = tmp_path / "clear.yaml"
    clear.write_text(yaml.safe_dump({**settings, "privacy": {"user_ids": "clear"}}))
    refused = subprocess.run(
        [str(cli), "pseudonymize-ledger", "--config", str(clear)], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "nothing to do" in refused.stderr


async def test_an_error_that_quotes_personal_data_is_recorded_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upstream's error body that echoes the prompt reaches the ledger with its e-mail address,
    card number and key masked."""
    from keel.call import Call, Deadline
    from keel.errors import InvalidRequestError
    from keel.ledger import record_of
    from keel.types import ChatRequest, Message

    call = Call(
        request=ChatRequest(model="m", messages=[Message(role="user", content="hi")]),
        deadline=Deadline.after(10),
    )
    quoted = (
        "bad request: 'write to ann@example.com, card 4111 1111 1111 1111, key sk-proj-" + "a1" * 12 + "'"
    )
    record = record_of(call, status="failed", error=InvalidRequestError(quoted))
    assert record.error is not None and "[EMAIL]" in record.error and "[CARD]" in record.error
    assert (
        "ann@example.com" not in record.error and "4111" not in record.error and "sk-proj" not in record.error
    )
