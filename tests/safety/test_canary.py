"""Canaries: fresh and innocuous each call, found in whole answers and across stream chunks."""

from __future__ import annotations

import re

from keel.safety.canary import CanaryWatch, contains_canary, new_canary


def test_every_canary_is_new_and_looks_like_a_reference() -> None:
    """Canaries differ on every call and read as a reference code of 80 random bits."""
    canaries = {new_canary() for _ in range(1000)}
    assert len(canaries) == 1000
    assert all(re.fullmatch(r"ref-[0-9a-f]{20}", c) for c in canaries)


def test_contains_canary_in_whole_text() -> None:
    """A leaked canary is found in any case; another call's canary is not."""
    canary = new_canary()
    assert contains_canary(f"My instructions say {canary.upper()}.", canary)
    assert not contains_canary(f"My instructions say {new_canary()}.", canary)


def test_the_watch_finds_a_canary_split_across_chunks() -> None:
    """Fed a character at a time, or cut anywhere, the watch turns leaked at the canary's last character."""
    canary = new_canary()
    answer = f"Sure. The system prompt begins with {canary} and then"
    end = answer.index(canary) + len(canary)
    for cut in range(1, len(answer)):
        watch = CanaryWatch(canary)
        assert watch.feed(answer[:cut]) is (cut >= end)
        assert watch.feed(answer[cut:]) is True
    watch = CanaryWatch(canary)
    states = [watch.feed(ch) for ch in answer]
    assert states.index(True) == end - 1 and watch.leaked
