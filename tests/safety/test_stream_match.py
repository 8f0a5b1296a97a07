"""StreamMatcher: keywords and patterns found once each, wherever the chunks split them."""

from __future__ import annotations

import random
import re

import pytest

from keel.safety.stream_match import StreamMatch, StreamMatcher

KEY = "sk" + "-abc123def456ghi789"  # put together, so no committed line reads as a live key
TEXT = (
    "The answer mentions Project Falcon twice: project falcon. Then a key " + KEY + " "
    "and the word forbidden, and falconry (not a whole word)."
)


def chunks_of(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    cuts = sorted(set(rng.sample(range(1, len(text)), rng.randrange(1, 40))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def run(matcher: StreamMatcher, chunks: list[str]) -> list[StreamMatch]:
    return [m for chunk in chunks for m in matcher.feed(chunk)]


def whole(text: str) -> list[StreamMatch]:
    return run(make(), [text])


def make() -> StreamMatcher:
    return StreamMatcher(
        ["project falcon", "forbidden"],
        [("openai_key", r"sk-[A-Za-z0-9]{8,40}")],
        max_length=43,
        whole_words=True,
    )


def test_matches_are_the_same_however_the_stream_is_cut() -> None:
    """Chunked at random (or one character at a time), the same matches are found at the same places;
    a pattern that could grow is reported as soon as it matches, so its text may be a prefix."""
    expected = whole(TEXT)
    assert [(m.name, m.text) for m in expected] == [
        ("project falcon", "Project Falcon"),
        ("project falcon", "project falcon"),
        ("openai_key", KEY),
        ("forbidden", "forbidden"),
    ]
    assert all(TEXT[m.start : m.end] == m.text for m in expected)
    for chunks in [*(chunks_of(TEXT, seed) for seed in range(200)), list(TEXT)]:
        got = run(make(), chunks)
        assert [(m.name, m.start) for m in got] == [(m.name, m.start) for m in expected]
        assert all(e.text.startswith(m.text) and len(m.text) >= 9 for m, e in zip(got, expected, strict=True))


def test_a_growing_match_is_reported_once() -> None:
    """A pattern whose match grows across chunks is reported once, when first complete."""
    matcher = StreamMatcher(patterns=[("digits", r"\d{3,}")], max_length=20)
    assert matcher.feed("order 12") == []
    assert [m.text for m in matcher.feed("3")] == ["123"]
    assert matcher.feed("45 done") == []
    assert [m.text for m in matcher.feed(" and 678")] == ["678"]


def test_the_tail_stays_bounded() -> None:
    """After a long stream the matcher holds no more than its window."""
    matcher = StreamMatcher(["needle"])
    for _ in range(10_000):
        matcher.feed("hay " * 10)
    assert len(matcher._tail) <= len("needle")
    assert [m.start for m in matcher.feed("a needle")] == [400_000 + 2]


def test_whole_words_use_the_character_before_the_chunk() -> None:
    """A word boundary is judged with the text of the previous chunk ('x' + 'forbidden' is no match)."""
    matcher = StreamMatcher(["forbidden"], whole_words=True)
    assert matcher.feed("x") == [] and matcher.feed("forbidden ") == []
    assert len(matcher.feed("forbidden.")) == 1


def test_patterns_need_a_bound() -> None:
    """Regular expressions without max_length, or nothing to match, are refused."""
    with pytest.raises(ValueError, match="max_length"):
        StreamMatcher(patterns=[("p", re.compile("a+"))])
    with pytest.raises(ValueError, match="at least one"):
        StreamMatcher()
