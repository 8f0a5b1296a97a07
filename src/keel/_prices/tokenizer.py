"""Offline token counters for the input bound: OpenAI's BPE encodings, by the route's model family.

The encodings come from the optional ``bpe-openai`` package (``pip install 'keel[tokenizer]'``),
which ships ``o200k_base`` and ``cl100k_base`` inside its wheel and so loads with no network
(tiktoken fetches its files at run time). Loading ``o200k_base`` takes about a second and 150 MB,
so it happens once per process, in a background thread started when a gateway with budgets is built;
until it is ready (or without the package) a counter is ``None`` and the UTF-8 bound is used, which
is looser but as safe. Only models of OpenAI's own families get a counter: any other route (Claude,
Gemini, a self-hosted model) keeps the UTF-8 bound, since no tokenizer of theirs ships offline.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable, Iterable

from ..telemetry.logs import get_logger

__all__ = ["LONGEST", "TokenCounter", "counter", "encoding_for", "preload", "wait"]

TokenCounter = Callable[[str], int]
"""The tokens one string makes."""

LONGEST = 32_768
"""Longer strings count their UTF-8 bytes instead: tokenizing costs ~50 ns a byte on the event loop."""

# Upstream model name prefixes, most specific first (``gpt-4o`` before ``gpt-4``).
_FAMILIES = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
)
_BOUNDARIES = ("-", ".", ":", "@")

_counters: dict[str, TokenCounter] = {}
_ready: dict[str, threading.Event] = {}
_lock = threading.Lock()


def encoding_for(model: str) -> str | None:
    """The encoding of ``model``'s family (``openai/gpt-4o-mini`` → ``o200k_base``), or None."""
    name = model.rpartition("/")[2].lower()
    for prefix, encoding in _FAMILIES:
        if name == prefix or (name.startswith(prefix) and name[len(prefix)] in _BOUNDARIES):
            return encoding
    return None


def counter(encoding: str) -> TokenCounter | None:
    """The counter for ``encoding`` once it has loaded; None before, or without ``bpe-openai``."""
    return _counters.get(encoding)


def preload(encodings: Iterable[str]) -> None:
    """Start loading each encoding in a daemon thread (once per process); returns at once."""
    for encoding in encodings:
        if encoding in _ready:  # the common case, without the lock
            continue
        with _lock:
            if encoding in _ready:
                continue
            _ready[encoding] = threading.Event()
        threading.Thread(target=_load, args=(encoding,), name=f"keel-{encoding}", daemon=True).start()


def wait(encoding: str, timeout: float) -> bool:
    """Whether ``encoding``'s counter is ready within ``timeout`` seconds (False without the package)."""
    event = _ready.get(encoding)
    if event is None or not event.wait(timeout):
        return False
    return encoding in _counters


def _load(encoding: str) -> None:
    try:
        with warnings.catch_warnings(action="ignore", category=DeprecationWarning):  # its importlib use
            encode = importlib.import_module("bpe_openai").get_encoding(encoding).encode_ordinary
        _counters[encoding] = lambda text: len(encode(text))
    except ImportError:  # the extra is optional: the UTF-8 bound stays
        pass
    except Exception as error:  # a broken install must not break reservations: the UTF-8 bound stays
        get_logger("keel.pricing").warning("tokenizer did not load", encoding=encoding, error=repr(error))
    finally:
        _ready[encoding].set()
