"""A ``keel serve`` with a master key keeps no user id it was sent: the ledger holds pseudonyms
(the database file has no trace of the e-mail address), limits set for a user by name still apply
to that user alone, and ``keel pseudonym`` finds the user's rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import yaml

from keel.config import Config
from keel.privacy import user_ids_for

from .._support.windows import fresh_minute
from .conftest import KeelFactory, user
from .test_cache import ledger_rows

MASTER = "sk-keel-master-pseudonyms"
ALICE, BOB = "alice@example.com", "bob@example.com"


def test_user_ids_are_stored_as_pseudonyms(keel_for: KeelFactory, uid: Any, tmp_path: Path) -> None:
    keel = keel_for(
        server={"master_key": MASTER},
        ledger={"durability": "strict"},
        rate_limits=[{"scope": "user", "match": ALICE, "rpm": 1}],
    )
    model = f"mock/{uid('ok:tokens=2')}"
    headers = {"authorization": f"Bearer {MASTER}"}

    def ask(who: str) -> int:
        body = {"model": model, "messages": user(), "user": who}
        return httpx.post(f"{keel.v1}/chat/completions", json=body, headers=headers, timeout=10).status_code

    fresh_minute()
    assert [ask(ALICE), ask(ALICE), ask(BOB), ask(BOB)] == [200, 429, 200, 200]  # alice's limit, hers alone

    config: Config = keel.app.gateway.config
    expected = {user_ids_for(config).ref(ALICE), user_ids_for(config).ref(BOB)}
    stored = {row["user"] for row in ledger_rows(keel)}
    assert stored == expected and all(value.startswith("u_") for value in stored)
    database = Path(config.database.removeprefix("sqlite:///"))
    for path in database.parent.glob(database.name + "*"):  # the file and its write-ahead log
        assert b"example.com" not in path.read_bytes(), path

    written = tmp_path / "keel.yaml"
    written.write_text(yaml.safe_dump({"providers": {}, "models": {}, "server": {"master_key": MASTER}}))
    cli = Path(sys.executable).parent / "keel"
    found = subprocess.run(
        [str(cli), "pseudonym", ALICE, "--config", str(written)], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == user_ids_for(config).ref(ALICE)
