"""Pseudonymizer: stable, shape-keeping placeholders, restored in whole answers and in streams."""

from __future__ import annotations

import ipaddress
import random

from keel.safety.pseudonymize import Pseudonymizer

TEXT = (
    "Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, "
    "IBAN DE89 3704 0044 0532 0130 00, from 10.1.2.3 and 2001:db8:85a3::7334, again jane.doe@example.com"
)


def test_the_same_value_gets_the_same_placeholder_and_shapes_are_kept() -> None:
    """A repeated value maps to one placeholder; e-mail and IP placeholders are valid of their kind."""
    p = Pseudonymizer()
    out = p.pseudonymize(TEXT)
    assert "jane.doe@example.com" not in out and "4111" not in out and "DE89" not in out
    assert out.count("email-1@redacted.invalid") == 2
    ips = [k for k, v in p.mapping.items() if v in ("10.1.2.3", "2001:db8:85a3::7334")]
    assert all(ipaddress.ip_address(ip) for ip in ips)
    assert p.pseudonymize("write jane.doe@example.com") == "write email-1@redacted.invalid"


def test_restore_puts_every_original_back() -> None:
    """restore of the pseudonymized text gives the original text back."""
    p = Pseudonymizer()
    assert p.restore(p.pseudonymize(TEXT)) == TEXT


def test_restore_leaves_placeholders_it_did_not_issue() -> None:
    """A placeholder-shaped string this call never issued, or one inside a longer word, is left as it is."""
    p = Pseudonymizer()
    p.pseudonymize("me@example.com")
    assert p.restore("email-2@redacted.invalid, xemail-1@redacted.invalid") == (
        "email-2@redacted.invalid, xemail-1@redacted.invalid"
    )
    assert p.restore("email-1@redacted.invalid.") == "me@example.com."


def test_the_stream_restorer_handles_placeholders_split_anywhere() -> None:
    """Fed in chunks cut at random places, the restorer gives the same text as a whole restore."""
    p = Pseudonymizer()
    masked = p.pseudonymize(TEXT)
    for seed in range(300):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(masked)), rng.randrange(1, 12)))
        chunks = [masked[a:b] for a, b in zip([0, *cuts], [*cuts, len(masked)], strict=True)]
        restorer = p.restorer()
        assert "".join(restorer.feed(c) for c in chunks) + restorer.flush() == TEXT


def test_the_stream_restorer_holds_back_only_a_possible_placeholder() -> None:
    """Text that cannot start a placeholder is released at once; a placeholder's start is held."""
    p = Pseudonymizer()
    p.pseudonymize("me@example.com")
    restorer = p.restorer()
    assert restorer.feed("Hello there, ") == "Hello there, "
    assert restorer.feed("write to em") == "write to "
    assert restorer.feed("ail-1@redacted.inv") == ""
    assert restorer.feed("alid today") == "me@example.com today"
    assert restorer.feed(" email-1@redacted.invalid") == " "
    assert restorer.flush() == "me@example.com"


def test_digit_placeholders_do_not_swallow_longer_numbers() -> None:
    """240.0.0.1 is restored, 240.0.0.12 (not issued) is not touched, even across chunks."""
    p = Pseudonymizer(kinds=["ip"])
    assert p.pseudonymize("from 10.9.9.9") == "from 240.0.0.1"
    restorer = p.restorer()
    out = (
        restorer.feed("a 240.0.0.1") + restorer.feed("2 b 240.0.0.1") + restorer.feed(" c") + restorer.flush()
    )
    assert out == "a 240.0.0.12 b 10.9.9.9 c"
