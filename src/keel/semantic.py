"""``SemanticIndex``: a near-duplicate of a cached prompt may be answered from the cache (off by default).

Only the last user message is compared by meaning; everything else must match exactly: the tenant,
the model, every parameter, the system prompt, the tools and the earlier turns, which together name
the index's scope. Within a scope the nearest stored prompt counts when its cosine similarity
reaches the threshold *and* both prompts carry the same numbers and the same negations — embedding
models score "in 3 points" and "in 5 points", or "is" and "is not", as near-duplicates. The vectors
live in this process (the embedded default); entries they point to live in the cache backend.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from ._minilm import MiniLM
from .policies._cache_key import request_material

if TYPE_CHECKING:
    from .call import Call
    from .config import SemanticCacheConfig

__all__ = ["SemanticIndex", "same_facts"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NEGATIONS = frozenset(
    {"no", "not", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without"}
    | {"cannot", "cant", "dont", "doesnt", "isnt", "arent", "wasnt", "werent", "wont", "didnt"}
    | {"shouldnt", "couldnt", "wouldnt", "hasnt", "havent"}
)
_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_TEENS = ("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen")
_NUMBER_WORDS = {word: str(value) for value, word in enumerate((*_SMALL, *_TEENS, "nineteen", "twenty"))} | {
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
}


def _facts(text: str) -> tuple[Counter[str], Counter[str]]:
    lowered = text.lower()
    numbers = Counter(n.replace(",", "") for n in _NUMBER.findall(lowered))
    negations: Counter[str] = Counter()
    for word in _WORD.findall(lowered):
        if word in _NUMBER_WORDS:
            numbers[_NUMBER_WORDS[word]] += 1
        elif word.endswith("n't") or word.replace("'", "") in _NEGATIONS:
            negations["not"] += 1
    return numbers, negations


def same_facts(a: str, b: str) -> bool:
    """Whether two prompts carry the same numbers and the same number of negations."""
    return _facts(a) == _facts(b)


class _Scope:
    """The prompts stored under one scope: their vectors, texts and cache keys."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.vectors: list[Any] = []


class SemanticIndex:
    """An in-process vector index over cached prompts, scoped as the module says."""

    def __init__(self, settings: SemanticCacheConfig, embedder: Any = None) -> None:
        self.settings = settings
        self.embedder = embedder or MiniLM()
        self._scopes: OrderedDict[str, _Scope] = OrderedDict()
        self._size = 0

    async def find(self, call: Call, tenant: str) -> tuple[str, float] | None:
        """The cache key of the nearest stored prompt that may stand for this one, and its similarity."""
        scoped = _scope_of(call, tenant)
        if scoped is None or scoped[0] not in self._scopes:
            return None
        scope = self._scopes[scoped[0]]
        vector = await asyncio.to_thread(self.embedder.embed, scoped[1])
        ranked = sorted(((float(stored @ vector), i) for i, stored in enumerate(scope.vectors)), reverse=True)
        for similarity, i in ranked:
            if similarity < self.settings.threshold:
                break
            if same_facts(scoped[1], scope.texts[i]):
                return scope.keys[i], similarity
        return None

    async def add(self, call: Call, tenant: str, key: str) -> None:
        """Remember this call's prompt as standing for the entry at ``key``."""
        scoped = _scope_of(call, tenant)
        if scoped is None:
            return
        scope = self._scopes.setdefault(scoped[0], _Scope())
        self._scopes.move_to_end(scoped[0])
        if key in scope.keys:
            return
        vector = await asyncio.to_thread(self.embedder.embed, scoped[1])
        scope.keys.append(key)
        scope.texts.append(scoped[1])
        scope.vectors.append(vector)
        self._size += 1
        while self._size > self.settings.max_entries:  # least recently used scope's oldest first
            oldest = next(iter(self._scopes.values()))
            for column in (oldest.keys, oldest.texts, oldest.vectors):
                del column[0]
            self._size -= 1
            if not oldest.keys:
                self._scopes.popitem(last=False)


def _scope_of(call: Call, tenant: str) -> tuple[str, str] | None:
    """The scope digest and the text compared by meaning; ``None`` when the last turn is not plain text
    from the user."""
    messages = call.request.messages
    last = messages[-1]
    if last.role != "user" or not isinstance(last.content, str) or not last.content.strip():
        return None
    material = request_material(call.request)
    material["messages"] = material["messages"][:-1]
    digest = hashlib.blake2b(
        orjson.dumps([tenant, call.request.model, material], option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()
    return digest, last.content
