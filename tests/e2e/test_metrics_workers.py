"""``keel serve --workers 2``: one scrape shows every worker's calls (prometheus_client's multiprocess
mode in the directory ``keel serve`` prepares)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import orjson
from prometheus_client.mmap_dict import MmapedDict

from keel.mock import MockServer

from ..scrape import parse, total
from .conftest import free_port, mock_config, user

KEEL = str(Path(sys.executable).with_name("keel"))
ACCESS = re.compile(r"event='request' .*path='/v1/chat/completions' pid=(\d+) .*status=200")


def calls_by_pid(folder: Path, model: str) -> dict[int, int]:
    """Per worker, the calls its own multiprocess file counts for ``model`` (its duration histogram's
    buckets, which the file keeps uncumulated, add up to its count)."""
    counts: dict[int, int] = {}
    for path in folder.glob("histogram_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "keel_request_duration_seconds_bucket" and labels.get("model") == model:
                counts[pid] = counts.get(pid, 0) + int(value)
    return counts


def test_one_scrape_shows_both_workers(upstream: MockServer, redis_url: str, tmp_path: Path) -> None:
    """After calls that both workers served (their access lines name two pids), one scrape's count
    equals the calls made and the sum of each worker's own count."""
    port = free_port()
    model = "w"
    config = mock_config(upstream, {model: ["mock/ok:tokens=3"]}, state=redis_url, server={"port": port})
    config["cache"] = {"enabled": False}
    (tmp_path / "keel.yaml").write_bytes(orjson.dumps(config))  # JSON is YAML
    folder = tmp_path / "prom"  # the operator's own directory: it exists, and keel serve empties it
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")
    env = {k: v for k, v in os.environ.items() if k not in ("KEEL_CONFIG", "KEEL_MASTER_KEY")}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [KEEL, "serve", "--config", "keel.yaml", "--workers", "2"], cwd=tmp_path, env=env, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    made = 0
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{base}/readyz"):
            assert process.poll() is None and time.monotonic() < deadline, "keel serve did not start"
            time.sleep(0.1)

        def call(_: int) -> int:  # a connection per call, so the kernel hands calls to either worker
            body = {"model": model, "messages": user()}
            headers = {"connection": "close"}
            return httpx.post(
                f"{base}/v1/chat/completions", json=body, headers=headers, timeout=10
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            while len(calls_by_pid(folder, model)) < 2 and made < 400:
                assert list(pool.map(call, range(16))) == [200] * 16
                made += 16
        # A call is observed just after its answer has gone (with its ledger record): wait for the last.
        deadline = time.monotonic() + 10
        while sum(calls_by_pid(folder, model).values()) < made and time.monotonic() < deadline:
            time.sleep(0.05)
        per_worker = calls_by_pid(folder, model)
        scraped = parse(httpx.get(f"{base}/metrics", timeout=10).text)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
    assert len(per_worker) == 2, per_worker
    assert not (folder / "counter_1.db").exists()
    assert total(scraped, "keel_request_duration_seconds_count", model=model) == made
    assert sum(per_worker.values()) == made
    served = Counter(int(pid) for pid in ACCESS.findall((tmp_path / "serve.log").read_text()))
    assert dict(served) == per_worker  # the access log's pids are the workers the files name


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
