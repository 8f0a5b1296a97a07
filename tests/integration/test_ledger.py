"""Every call leaves one ledger record — answered, failed, cut or abandoned — and nothing is lost on close."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel import ServerError, StreamInterruptedError
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user


async def rows(tmp_path: Path) -> list[dict]:
    ledger = SQLiteLedger(tmp_path / "keel.db")
    try:
        return list(reversed(await ledger.rows()))
    finally:
        await ledger.close()


def db_bytes(folder: Path) -> bytes:
    """Everything SQLite wrote: the database and its WAL."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("keel.db*")))


async def test_answered_call_is_recorded_with_its_attempts(
    gateway_for: GatewayFactory, tmp_path: Path, uid
) -> None:
    """A retried call is one record: the answering route, tokens summed, each attempt inside."""
    flaky = uid("error-500:times=1,tokens=4")
    gateway = gateway_for({"smart": [f"mock/{flaky}"]})
    response = await gateway.chat("smart", user(), user="u-1")
    await gateway.aclose()
    [record] = await rows(tmp_path)
    assert record["status"] == "ok"
    assert record["request_id"] and record["requested_model"] == "smart"
    assert record["route"] == f"mock/{flaky}" and record["user"] == "u-1"
    assert record["output_tokens"] == 4 == response.usage.output_tokens  # type: ignore[union-attr]
    assert [a["outcome"] for a in record["attempts"]] == ["server_error", "ok"]
    assert record["upstream_request_id"] == response.upstream_request_id


async def test_failed_call_is_recorded(gateway_for: GatewayFactory, tmp_path: Path, uid) -> None:
    """A call that fails everywhere is recorded with its error and attempts, and no route."""
    gateway = gateway_for({"smart": [f"mock/{uid('error-503')}"]}, retry={"max_attempts": 2})
    with pytest.raises(ServerError):
        await gateway.chat("smart", user())
    await gateway.aclose()
    [record] = await rows(tmp_path)
    assert record["status"] != "ok" and "ServerError" in record["error"]
    assert [a["outcome"] for a in record["attempts"]] == ["server_error", "server_error"]
    assert record["route"] is None


async def test_cut_stream_records_what_was_delivered(
    gateway_for: GatewayFactory, tmp_path: Path, uid
) -> None:
    """A stream cut after the commit point is recorded as interrupted, with the bytes it delivered."""
    gateway = gateway_for({"smart": [f"mock/{uid('cut:after=3,tokens=10')}"]})
    with pytest.raises(StreamInterruptedError):
        async for _ in gateway.stream("smart", user()):
            pass
    await gateway.aclose()
    [record] = await rows(tmp_path)
    assert record["status"] == "stream_interrupted"
    assert record["ttft_ms"] is not None and record["ttft_ms"] >= 0
    assert record["attempts"][0]["delivered_bytes"] > 0


async def test_abandoned_stream_is_recorded_as_cancelled(
    gateway_for: GatewayFactory, tmp_path: Path, uid
) -> None:
    """A caller that walks away mid-stream still leaves a record, marked cancelled."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=50,token_ms=5')}"]})
    handle = gateway.stream("smart", user())
    await anext(handle)
    await handle.aclose()
    await gateway.aclose()
    [record] = await rows(tmp_path)
    assert record["status"] == "cancelled"


@pytest.mark.parametrize("durability", ["batched", "strict"])
async def test_close_flushes_every_record(
    gateway_for: GatewayFactory, tmp_path: Path, uid, durability: str
) -> None:
    """Many calls then a clean close: every call is in the ledger, in either durability mode."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=1')}"]}, ledger={"durability": durability})
    for _ in range(40):
        await gateway.chat("smart", user())
    if durability == "strict":
        assert len(await rows(tmp_path)) == 40  # stored before each response was returned
    await gateway.aclose()
    assert len(await rows(tmp_path)) == 40


async def test_ledger_never_holds_the_key_or_prompt(gateway_for: GatewayFactory, tmp_path: Path, uid) -> None:
    """Neither the provider's key nor the prompt text is written to the ledger."""
    gateway = gateway_for(
        {"smart": [f"mock/{uid('ok')}"]}, providers={"mock": {"api_key": "sk-test-very-secret-key-0001"}}
    )
    await gateway.chat("smart", user("my secret prompt text"))
    await gateway.aclose()
    raw = db_bytes(tmp_path)
    assert b"very-secret-key" not in raw and b"my secret prompt text" not in raw


async def test_spend_report_groups(tmp_path: Path, gateway_for: GatewayFactory, uid) -> None:
    """The spend query groups calls and tokens by user and by day."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=2')}"]})
    for name in ("a", "a", "b"):
        await gateway.chat("smart", user(), user=name)
    await gateway.aclose()
    ledger = SQLiteLedger(tmp_path / "keel.db")
    by_user = {row["user"]: row for row in await ledger.spend(["user"])}
    by_day = await ledger.spend(["day"])
    await ledger.close()
    assert by_user["a"]["calls"] == 2 and by_user["b"]["calls"] == 1
    assert by_user["a"]["output_tokens"] == 4
    assert len(by_day) == 1 and by_day[0]["calls"] == 3
