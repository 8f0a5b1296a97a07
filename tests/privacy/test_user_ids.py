"""User ids at rest: a keyed hash, stable for grouping, different under another key, clear only by
the operator's choice or for want of any key."""

from __future__ import annotations

import pytest

from keel.config import Config
from keel.privacy import user_ids_for


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
