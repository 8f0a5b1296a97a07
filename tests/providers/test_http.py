"""Retry-After parsing and URL scrubbing."""

import email.utils

from keel.providers._http import parse_retry_after, scrub_url


def test_retry_after_seconds() -> None:
    """``Retry-After: 2`` means two seconds."""
    assert parse_retry_after({"retry-after": "2"}) == 2.0


def test_retry_after_fractional_and_ms() -> None:
    """``retry-after-ms`` wins over ``retry-after`` and is in milliseconds."""
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25


def test_retry_after_http_date() -> None:
    """An HTTP date is turned into the seconds from now until then."""
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == 30.0


def test_retry_after_in_the_past_or_garbage() -> None:
    """A date in the past means now; an unreadable value means no hint."""
    assert parse_retry_after({"retry-after": email.utils.formatdate(0, usegmt=True)}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_scrub_url_drops_query_and_credentials() -> None:
    """A URL shown in logs or errors has no query string and no userinfo."""
    assert scrub_url("https://user:pw@host.example:8443/v1/x?key=secret") == "https://host.example:8443/v1/x"
