"""find_pii and redact: each kind found by its check, look-alikes left alone."""

from __future__ import annotations

import pytest

from keel.safety.pii import KINDS, Span, find_pii, redact
from keel.telemetry.logs import mask_secret_values

# Key-shaped values are put together here, so that no committed line reads as a live key.
SK = "sk" + "-"
PROJECT_KEY = SK + "proj-" + "abcdefghijklmnop1234"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"


def kinds_in(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to ana.lopez+news@correo.example.es.", "email", "ana.lopez+news@correo.example.es"),
        ("card 4111 1111 1111 1111 exp 12/29", "card", "4111 1111 1111 1111"),
        ("amex 378282246310005", "card", "378282246310005"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB82WEST12345698765432 OK", "iban", "GB82WEST12345698765432"),
        ("SSN 123-45-6789 on file", "national_id", "123-45-6789"),
        ("NIR 2 85 03 46 042 562 91", "national_id", "2 85 03 46 042 562 91"),
        ("from 203.0.113.9 at noon", "ip", "203.0.113.9"),
        ("from 2001:db8:85a3::8a2e:370:7334 today", "ip", "2001:db8:85a3::8a2e:370:7334"),
        ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("call (415) 555-2671", "phone", "(415) 555-2671"),
        ("appelez le 01 42 68 53 00", "phone", "01 42 68 53 00"),
        (f"key {PROJECT_KEY}", "secret", PROJECT_KEY),
        (f"id {AWS_KEY_ID}", "secret", AWS_KEY_ID),
    ],
)
def test_each_kind_is_found_with_its_bounds(text: str, kind: str, value: str) -> None:
    """Each kind is found, with the span covering exactly the value."""
    assert (kind, value) in kinds_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 (Luhn fails)",
        "IBAN DE89 3704 0044 0532 0130 01 (mod-97 fails)",
        "SSN 666-45-6789 (area never issued)",
        "version 1.2.3.4 and build 10.0.19041.1",
        "ISBN 978-3-16-148410-0, order #4829301, 2024-05-01 12:30:00",
        "uuid 123e4567-e89b-12d3-a456-426614174000, colour #a1b2c3",
        "std::vector<int> and a::b, at 12:30:45, MAC 00:1A:2B:3C:4D:5E",
        "a task-manager-service, the sk-learn docs, a Bearer token",
        "npm i @types/node@20.11.5; ssh deploy@prod",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    """Numbers that fail their check, versions, dates, ids and code are not reported."""
    assert kinds_in(text) == []


def test_text_without_digits_or_at_costs_one_scan() -> None:
    """Prose with no digit, no @ and no key prefix finds nothing (the pre-check answers)."""
    assert find_pii("Nothing to see here, just words and punctuation!" * 50) == []


def test_overlaps_keep_the_more_specific_kind() -> None:
    """An IBAN is not also reported as a card or phone inside it; spans come in text order."""
    text = "to DE89370400440532013000 or me@example.com"
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["iban", "email"]
    assert spans == sorted(spans, key=lambda s: s.start)


def test_kinds_restrict_the_search_and_unknown_kinds_are_refused() -> None:
    """Only the kinds asked for are reported; an unknown kind is a ValueError."""
    text = "me@example.com 4111111111111111"
    assert find_pii(text, kinds=["card"]) == [Span("card", 15, 31)]
    with pytest.raises(ValueError, match="unknown PII kinds"):
        find_pii(text, kinds=["names"])
    assert set(KINDS) >= {"email", "phone", "card", "iban", "national_id", "ip", "secret"}


def test_redact_puts_the_kind_in_brackets() -> None:
    """redact replaces each finding with its kind's placeholder."""
    text = "Mail me@example.com, card 4111 1111 1111 1111."
    assert redact(text) == "Mail [EMAIL], card [CARD]."
    assert redact("no pii") == "no pii"


@pytest.mark.parametrize(
    "secret",
    [
        SK + "abcdefgh12345678",
        SK + "ant-api03-abcdefgh1234",
        "Bearer abcdefgh12345678",
        SK + "proj-Ab_cD-12345678",
    ],
)
def test_what_the_log_masker_masks_is_a_secret_here_too(secret: str) -> None:
    """Every key shape keel.telemetry.logs masks is found as a secret (the two lists stay aligned)."""
    line = f"upstream said: {secret} was refused"
    assert mask_secret_values(line) != line
    assert ("secret", secret) in kinds_in(line)
