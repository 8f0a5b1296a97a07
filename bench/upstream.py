"""The benchmark's upstream: one nginx on loopback answering like OpenAI, from fixed bytes.

Paths (nginx cannot branch on a request body, so the path picks the answer):

    POST /v1/chat/completions        a fixed chat.completion JSON, at once
    POST /sse/v1/chat/completions    a fixed stream: 20 ``data: {...}`` events, then ``data: [DONE]``
    POST /slow/v1/chat/completions   the same JSON after 100 ms (the echo module's echo_sleep)
    GET  {,/sse,/slow}/v1/models     a one-model list

The config is generated into a temporary directory and nginx runs as a non-daemon child with its
own pid file, error log and temp paths. Without the echo module the 100 ms path is served by a
small aiohttp server instead (``slow_fallback``), on its own port.

Run alone to poke at it:  python3 bench/upstream.py --port 18080
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
UPSTREAM_MODEL = "gpt-4o-mini-2024-07-18"
CREATED = 1_700_000_000

COMPLETION: dict = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": CREATED,
    "model": UPSTREAM_MODEL,
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! This is a fixed answer from the benchmark's upstream.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 14,
        "total_tokens": 26,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
}

MODELS = {
    "object": "list",
    "data": [{"id": UPSTREAM_MODEL, "object": "model", "created": CREATED, "owned_by": "bench"}],
}

STREAM_EVENTS = 20


def stream_events() -> list[str]:
    """20 SSE events as OpenAI sends them with include_usage (role, 17 words, finish, usage), then
    ``[DONE]``."""

    def chunk(delta: dict, finish: str | None = None, *, usage: dict | None = None) -> dict:
        event = {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": UPSTREAM_MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }
        if usage is not None:
            event["choices"] = []
            event["usage"] = usage
        return event

    words = [
        "Hello",
        "there,",
        "this",
        "is",
        "a",
        "fixed",
        "stream",
        "from",
        "the",
        "benchmark's",
        "upstream,",
        "exactly",
        "seventeen",
        "words",
        "long,",
        "no",
        "more.",
    ]
    assert len(words) == STREAM_EVENTS - 3, len(words)
    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": (" " if i else "") + word}) for i, word in enumerate(words)]
    events.append(chunk({}, "stop"))
    events.append(chunk({}, usage={"prompt_tokens": 12, "completion_tokens": 17, "total_tokens": 29}))
    assert len(events) == STREAM_EVENTS
    return [f"data: {_compact(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]


def stream_body() -> str:
    return "".join(stream_events())


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _nginx_string(text: str) -> str:
    """A double-quoted nginx string literal (nginx understands \\n, \\" and \\\\ inside one)."""
    return (
        '"'
        + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "${dollar}")
        + '"'
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(workdir: Path, port: int, echo: bool, slow_ms: int) -> str:
    # nginx reads a config token into a 4 KiB buffer, so the stream is set piecewise, one event a
    # variable, and returned as their concatenation.
    completion, models = _nginx_string(_compact(COMPLETION)), _nginx_string(_compact(MODELS))
    events = stream_events()
    set_events = "".join(f"\n            set $e{i} {_nginx_string(e)};" for i, e in enumerate(events))
    sse = '"' + "".join(f"$e{i}" for i in range(len(events))) + '"'
    slow = (
        f"""
        location = /slow/v1/chat/completions {{
            default_type application/json;
            add_header x-request-id req_bench always;
            echo_sleep {slow_ms / 1000:.3f};
            echo -n {completion};
        }}"""
        if echo
        else ""
    )
    models_locations = "".join(
        f"""
        location = {prefix}/v1/models {{ default_type application/json; return 200 {models}; }}"""
        for prefix in ("", "/sse", "/slow")
    )
    return f"""# generated by bench/upstream.py
{f"load_module {ECHO_MODULE};" if echo else ""}
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    geo $dollar {{ default "$"; }}
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    tcp_nodelay on;
    server_tokens off;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /v1/chat/completions {{
            default_type application/json;
            add_header x-request-id req_bench always;
            return 200 {completion};
        }}
        location = /sse/v1/chat/completions {{
            default_type text/event-stream;
            add_header cache-control no-cache always;
            add_header x-request-id req_bench always;{set_events}
            return 200 {sse};
        }}{slow}{models_locations}
        location / {{ default_type application/json; return 404 '{{"error":{{"message":"not found","type":"invalid_request_error"}}}}'; }}
    }}
}}
"""


class Upstream:
    """nginx (and, without the echo module, the aiohttp 100 ms fallback) as child processes."""

    def __init__(self, port: int | None = None, slow_ms: int = 100, python: str | None = None) -> None:
        self.port = port or free_port()
        self.slow_ms = slow_ms
        self.python = python
        self.echo = ECHO_MODULE.exists()
        self.workdir = Path(tempfile.mkdtemp(prefix="keel-bench-nginx-"))
        self.procs: list[subprocess.Popen] = []
        self.slow_port = self.port if self.echo else free_port()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def json_url(self) -> str:
        return f"{self.base}/v1/chat/completions"

    @property
    def sse_url(self) -> str:
        return f"{self.base}/sse/v1/chat/completions"

    @property
    def slow_url(self) -> str:
        return f"http://127.0.0.1:{self.slow_port}/slow/v1/chat/completions"

    @property
    def slow_base(self) -> str:
        return f"http://127.0.0.1:{self.slow_port}/slow/v1"

    def start(self) -> Upstream:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / sub).mkdir(exist_ok=True)
        os.chmod(self.workdir, 0o755)
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.port, self.echo, self.slow_ms))
        check = subprocess.run(
            [nginx, "-t", "-q", "-c", str(conf), "-p", str(self.workdir)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected its config {conf}:\n{check.stderr}")
        log = open(self.workdir / "nginx-stderr.log", "wb")
        self.procs.append(
            subprocess.Popen(
                [nginx, "-c", str(conf), "-p", str(self.workdir), "-g", "daemon off;"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        if not self.echo:
            self.procs.append(
                subprocess.Popen(
                    [
                        self.python or sys.executable,
                        str(Path(__file__).with_name("slow_fallback.py")),
                        "--port",
                        str(self.slow_port),
                        "--delay-ms",
                        str(self.slow_ms),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        for url in {f"{self.base}/v1/models", f"http://127.0.0.1:{self.slow_port}/slow/v1/models"}:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    raise RuntimeError(f"upstream did not come up at {url}; see {self.workdir}")
                time.sleep(0.05)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGQUIT if p is self.procs[0] else signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="run the benchmark's static upstream in the foreground")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--slow-ms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=600, help="stop after this long (bounded)")
    args = parser.parse_args()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that nginx is stopped on the way out

    signal.signal(signal.SIGTERM, on_term)
    with Upstream(args.port, args.slow_ms) as up:
        print(
            f"upstream on {up.base}: {up.json_url} {up.sse_url} {up.slow_url} (echo module: {up.echo})",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(args.seconds)


if __name__ == "__main__":
    main()
