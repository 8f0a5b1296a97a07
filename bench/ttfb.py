"""Time to first streamed data: N sequential streaming requests on one kept-alive connection.

For each request it records, from just before the request is written:
  headers_ms  when the status line and headers have been read;
  first_ms    when the first ``data:`` bytes of the body have arrived;
  total_ms    when the whole stream has been read;
  overhead_ms what Keel's x-keel-overhead-ms response header says, when there is one.
It checks that every stream is a 200 that ends with ``data: [DONE]``. Standard library only
(http.client over loopback), so any Python 3.11 runs it.

    python3 bench/ttfb.py --url http://127.0.0.1:4000/v1/chat/completions --body BODY.json -n 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from urllib.parse import urlsplit


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def measure(
    url: str, body: bytes, n: int, auth: str | None = None, warmup: int = 5, timeout: float = 30.0
) -> dict:
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if auth:
        headers["Authorization"] = f"Bearer {auth}"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    first, heads, totals, overheads = [], [], [], []
    failures: dict[str, int] = {}
    sample: str | None = None
    try:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            try:
                conn.request("POST", parts.path, body=body, headers=headers)
                response = conn.getresponse()
                t_head = time.perf_counter()
                received = b""
                t_first = None
                while True:
                    piece = response.read1(65536)
                    if not piece:
                        break
                    received += piece
                    if t_first is None and b"data:" in received:
                        t_first = time.perf_counter()
                received += response.read()  # read1 leaves a Content-Length response open at its end
                t_end = time.perf_counter()
            except (OSError, http.client.HTTPException) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                sample = sample or repr(exc)
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
                continue
            if response.status != 200 or t_first is None or not received.rstrip().endswith(b"data: [DONE]"):
                key = str(response.status) if response.status != 200 else "no [DONE]"
                failures[key] = failures.get(key, 0) + 1
                sample = sample or f"{response.status} {received[:300]!r}"
                continue
            if i >= warmup:
                heads.append((t_head - t0) * 1000)
                first.append((t_first - t0) * 1000)
                totals.append((t_end - t0) * 1000)
                overhead = response.getheader("x-keel-overhead-ms")
                if overhead:
                    overheads.append(float(overhead))
    finally:
        conn.close()

    def stats(values: list[float]) -> dict:
        if not values:
            return {}
        return {
            "p50": statistics.median(values),
            "p90": percentile(values, 90),
            "p99": percentile(values, 99),
            "mean": statistics.fmean(values),
            "min": min(values),
            "max": max(values),
        }

    return {
        "requests": n,
        "ok": len(first),
        "failures": failures,
        "failure_sample": sample,
        "first_ms": stats(first),
        "headers_ms": stats(heads),
        "total_ms": stats(totals),
        "overhead_ms": stats(overheads),  # Keel's own x-keel-overhead-ms header, when present
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="path of a streaming request body (JSON)")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--auth", default=None, help="bearer token")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    host = urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this client only talks to loopback")
    with open(args.body, "rb") as f:
        body = f.read()
    print(json.dumps(measure(args.url, body, args.n, args.auth, args.warmup), indent=2))


if __name__ == "__main__":
    main()
