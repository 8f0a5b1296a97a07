"""Output guards' scanners: a violation is found in whatever pieces the text arrives, once, and
named without the text; what only looks like a violation is let through."""

from __future__ import annotations

import pytest

from keel.config import GuardsConfig, OutputGuardConfig
from keel.guards import build_output_guards
from keel.guards.output import OutputGuard


def guard(**fields: object) -> OutputGuard:
    [built] = build_output_guards(GuardsConfig(output=[OutputGuardConfig.model_validate(fields)]))
    return built


def first_finding(built: OutputGuard, pieces: list[str]) -> int | None:
    """The index of the piece at which the guard fires, or None."""
    scanner = built.scanner()
    for index, piece in enumerate(pieces):
        if scanner.feed(piece) is not None:
            return index
    return None


def pieces_of(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_a_pattern_split_across_pieces_is_found_where_it_completes(size: int) -> None:
    text = "the plan for project falcon starts today"
    built = guard(kind="patterns", keywords=["Project Falcon"])
    at = first_finding(built, pieces_of(text, size))
    assert at == (text.index("falcon") + len("falcon") - 1) // size


def test_keywords_are_whole_words_and_patterns_as_written() -> None:
    built = guard(kind="patterns", keywords=["cat"], patterns=[r"order-\d{4}"])
    assert first_finding(built, ["concatenate", " category"]) is None
    # Found as soon as the text so far ends with the word: not held back to see what comes next.
    assert first_finding(built, ["a ", "CAT", " sat"]) == 1
    assert first_finding(built, ["order-12", "34"]) == 1


def test_a_guard_reports_once_and_names_no_content() -> None:
    scanner = guard(kind="patterns", keywords=["secret plan"], name="plans").scanner()
    finding = scanner.feed("the secret plan is")
    assert finding is not None and finding.guard == "plans" and finding.mode == "block"
    assert "secret plan" not in finding.reason
    assert scanner.feed("secret plan again") is None


def test_max_length_counts_every_piece() -> None:
    built = guard(kind="max_length", max_chars=10)
    assert first_finding(built, ["12345", "67890"]) is None
    assert first_finding(built, ["12345", "67890", "1"]) == 2


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-" + "a1B2" * 12,
        "sk-ant-api03-" + "x9" * 20,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "ghp_" + "a" * 36,
        "xoxb-123456789012-abcdefghij",
        "AIza" + "b" * 35,
        "sk_live_" + "c" * 24,
        "-----BEGIN RSA PRIVATE KEY-----",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_credentials_are_found_however_they_are_split(secret: str) -> None:
    built = guard(kind="secrets")
    text = f"Here is the value you asked for: {secret} — keep it safe."
    for size in (1, 4, 16, len(text)):
        assert first_finding(built, pieces_of(text, size)) is not None, (secret, size)


@pytest.mark.parametrize(
    "text",
    [
        "Send the header Authorization: Bearer <your token> with each request.",
        "Set OPENAI_API_KEY=sk-... in your environment.",
        "Use the task-scheduler and the disk-cleanup tool.",
        "The AKIA prefix marks AWS access keys.",
        "eyJ is how a base64 JSON object starts.",
    ],
)
def test_talking_about_credentials_is_not_a_leak(text: str) -> None:
    assert first_finding(guard(kind="secrets"), pieces_of(text, 3)) is None


def test_guards_apply_where_they_are_matched_and_off_ones_are_left_out() -> None:
    config = GuardsConfig(
        output=[
            OutputGuardConfig(kind="secrets", mode="off"),
            OutputGuardConfig(kind="max_length", max_chars=5, match={"models": ["smart"], "teams": ["beta"]}),
        ]
    )
    [built] = build_output_guards(config)
    assert built.applies("smart", None, None) and built.applies("other", "k", "beta")
    assert not built.applies("other", "k", "alpha")
    assert guard(kind="secrets").applies("any", None, None)


def test_bad_guards_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs patterns or keywords"):
        OutputGuardConfig(kind="patterns")
    with pytest.raises(ValueError, match="needs max_chars"):
        OutputGuardConfig(kind="max_length")
    with pytest.raises(ValueError, match="not a regular expression"):
        OutputGuardConfig(kind="patterns", patterns=["(unclosed"])


def test_secrets_are_blocked_by_default() -> None:
    [built] = build_output_guards(GuardsConfig())
    assert built.kind == "secrets" and built.mode == "block"
